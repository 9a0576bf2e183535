//go:build linux && cgo

// Package abi reports, through cgo, the layout and constants of the kernel's
// SIOCETHTOOL structures as <linux/ethtool.h> declares them, so that
// pkg/flows's tests can compare its Go mirrors with the C header. Only tests
// import it.
package abi

/*
#include <stddef.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/sockios.h>
#include <linux/if_ether.h>
#include <linux/ethtool.h>

struct abi_member { const char *name; size_t off; size_t size; };

#define MEMBER(type, m) { #type "." #m, offsetof(struct type, m), sizeof(((struct type *)0)->m) }
// A flexible array member: its offset, and size 0.
#define FLEX(type, m) { #type "." #m, offsetof(struct type, m), 0 }
// A member of union ethtool_flow_union, in h_u and in m_u.
#define FLOW(m) MEMBER(ethtool_rx_flow_spec, h_u.m), MEMBER(ethtool_rx_flow_spec, m_u.m)
// A member of struct ethtool_flow_ext, in h_ext and in m_ext.
#define EXT(m) MEMBER(ethtool_rx_flow_spec, h_ext.m), MEMBER(ethtool_rx_flow_spec, m_ext.m)

static const struct abi_member abi_members[] = {
	MEMBER(ethtool_rx_flow_spec, flow_type),
	MEMBER(ethtool_rx_flow_spec, h_u),
	MEMBER(ethtool_rx_flow_spec, h_ext),
	MEMBER(ethtool_rx_flow_spec, m_u),
	MEMBER(ethtool_rx_flow_spec, m_ext),
	MEMBER(ethtool_rx_flow_spec, ring_cookie),
	MEMBER(ethtool_rx_flow_spec, location),

	FLOW(tcp_ip4_spec.ip4src), FLOW(tcp_ip4_spec.ip4dst), FLOW(tcp_ip4_spec.psrc), FLOW(tcp_ip4_spec.pdst), FLOW(tcp_ip4_spec.tos),
	FLOW(udp_ip4_spec.ip4src), FLOW(udp_ip4_spec.pdst),
	FLOW(sctp_ip4_spec.ip4src), FLOW(sctp_ip4_spec.pdst),
	FLOW(ah_ip4_spec.ip4src), FLOW(ah_ip4_spec.ip4dst), FLOW(ah_ip4_spec.spi), FLOW(ah_ip4_spec.tos),
	FLOW(esp_ip4_spec.ip4src), FLOW(esp_ip4_spec.ip4dst), FLOW(esp_ip4_spec.spi), FLOW(esp_ip4_spec.tos),
	FLOW(usr_ip4_spec.ip4src), FLOW(usr_ip4_spec.ip4dst), FLOW(usr_ip4_spec.l4_4_bytes), FLOW(usr_ip4_spec.tos), FLOW(usr_ip4_spec.ip_ver), FLOW(usr_ip4_spec.proto),
	FLOW(tcp_ip6_spec.ip6src), FLOW(tcp_ip6_spec.ip6dst), FLOW(tcp_ip6_spec.psrc), FLOW(tcp_ip6_spec.pdst), FLOW(tcp_ip6_spec.tclass),
	FLOW(udp_ip6_spec.ip6src), FLOW(udp_ip6_spec.pdst),
	FLOW(sctp_ip6_spec.ip6src), FLOW(sctp_ip6_spec.pdst),
	FLOW(ah_ip6_spec.ip6src), FLOW(ah_ip6_spec.ip6dst), FLOW(ah_ip6_spec.spi), FLOW(ah_ip6_spec.tclass),
	FLOW(esp_ip6_spec.ip6src), FLOW(esp_ip6_spec.ip6dst), FLOW(esp_ip6_spec.spi), FLOW(esp_ip6_spec.tclass),
	FLOW(usr_ip6_spec.ip6src), FLOW(usr_ip6_spec.ip6dst), FLOW(usr_ip6_spec.l4_4_bytes), FLOW(usr_ip6_spec.tclass), FLOW(usr_ip6_spec.l4_proto),
	FLOW(ether_spec.h_dest), FLOW(ether_spec.h_source), FLOW(ether_spec.h_proto),
	FLOW(hdata),
	EXT(padding), EXT(h_dest), EXT(vlan_etype), EXT(vlan_tci), EXT(data),

	MEMBER(ethtool_flow_ext, padding), MEMBER(ethtool_flow_ext, h_dest), MEMBER(ethtool_flow_ext, vlan_etype),
	MEMBER(ethtool_flow_ext, vlan_tci), MEMBER(ethtool_flow_ext, data),

	MEMBER(ethtool_tcpip4_spec, ip4src), MEMBER(ethtool_tcpip4_spec, ip4dst), MEMBER(ethtool_tcpip4_spec, psrc),
	MEMBER(ethtool_tcpip4_spec, pdst), MEMBER(ethtool_tcpip4_spec, tos),
	MEMBER(ethtool_ah_espip4_spec, ip4src), MEMBER(ethtool_ah_espip4_spec, ip4dst), MEMBER(ethtool_ah_espip4_spec, spi),
	MEMBER(ethtool_ah_espip4_spec, tos),
	MEMBER(ethtool_usrip4_spec, ip4src), MEMBER(ethtool_usrip4_spec, ip4dst), MEMBER(ethtool_usrip4_spec, l4_4_bytes),
	MEMBER(ethtool_usrip4_spec, tos), MEMBER(ethtool_usrip4_spec, ip_ver), MEMBER(ethtool_usrip4_spec, proto),
	MEMBER(ethtool_tcpip6_spec, ip6src), MEMBER(ethtool_tcpip6_spec, ip6dst), MEMBER(ethtool_tcpip6_spec, psrc),
	MEMBER(ethtool_tcpip6_spec, pdst), MEMBER(ethtool_tcpip6_spec, tclass),
	MEMBER(ethtool_ah_espip6_spec, ip6src), MEMBER(ethtool_ah_espip6_spec, ip6dst), MEMBER(ethtool_ah_espip6_spec, spi),
	MEMBER(ethtool_ah_espip6_spec, tclass),
	MEMBER(ethtool_usrip6_spec, ip6src), MEMBER(ethtool_usrip6_spec, ip6dst), MEMBER(ethtool_usrip6_spec, l4_4_bytes),
	MEMBER(ethtool_usrip6_spec, tclass), MEMBER(ethtool_usrip6_spec, l4_proto),
	MEMBER(ethhdr, h_dest), MEMBER(ethhdr, h_source), MEMBER(ethhdr, h_proto),

	MEMBER(ethtool_rxnfc, cmd), MEMBER(ethtool_rxnfc, flow_type), MEMBER(ethtool_rxnfc, data), MEMBER(ethtool_rxnfc, fs),
	MEMBER(ethtool_rxnfc, rule_cnt), MEMBER(ethtool_rxnfc, rss_context), MEMBER(ethtool_rxnfc, rule_locs),

	MEMBER(ifreq, ifr_name), MEMBER(ifreq, ifr_data),

	MEMBER(ethtool_rxfh_indir, cmd), MEMBER(ethtool_rxfh_indir, size), FLEX(ethtool_rxfh_indir, ring_index),
	MEMBER(ethtool_channels, cmd), MEMBER(ethtool_channels, max_rx), MEMBER(ethtool_channels, max_tx),
	MEMBER(ethtool_channels, max_other), MEMBER(ethtool_channels, max_combined), MEMBER(ethtool_channels, rx_count),
	MEMBER(ethtool_channels, tx_count), MEMBER(ethtool_channels, other_count), MEMBER(ethtool_channels, combined_count),
};

struct abi_size { const char *name; size_t size; };
#define SIZE(t) { #t, sizeof(t) }
static const struct abi_size abi_sizes[] = {
	SIZE(struct ethtool_rx_flow_spec), SIZE(union ethtool_flow_union), SIZE(struct ethtool_flow_ext),
	SIZE(struct ethtool_tcpip4_spec), SIZE(struct ethtool_ah_espip4_spec), SIZE(struct ethtool_usrip4_spec),
	SIZE(struct ethtool_tcpip6_spec), SIZE(struct ethtool_ah_espip6_spec), SIZE(struct ethtool_usrip6_spec),
	SIZE(struct ethhdr), SIZE(struct ethtool_rxnfc), SIZE(struct ifreq),
	SIZE(struct ethtool_rxfh_indir), SIZE(struct ethtool_channels),
};

struct abi_constant { const char *name; unsigned long long value; };
#define ABI_CONST(c) { #c, (unsigned long long)(c) }
static const struct abi_constant abi_consts[] = {
	ABI_CONST(TCP_V4_FLOW), ABI_CONST(UDP_V4_FLOW), ABI_CONST(SCTP_V4_FLOW), ABI_CONST(AH_ESP_V4_FLOW),
	ABI_CONST(TCP_V6_FLOW), ABI_CONST(UDP_V6_FLOW), ABI_CONST(SCTP_V6_FLOW), ABI_CONST(AH_ESP_V6_FLOW),
	ABI_CONST(AH_V4_FLOW), ABI_CONST(ESP_V4_FLOW), ABI_CONST(AH_V6_FLOW), ABI_CONST(ESP_V6_FLOW),
	ABI_CONST(IPV4_USER_FLOW), ABI_CONST(IP_USER_FLOW), ABI_CONST(IPV6_USER_FLOW), ABI_CONST(IPV4_FLOW), ABI_CONST(IPV6_FLOW), ABI_CONST(ETHER_FLOW),
	ABI_CONST(FLOW_EXT), ABI_CONST(FLOW_MAC_EXT), ABI_CONST(FLOW_RSS),
	ABI_CONST(ETH_RX_NFC_IP4),
	ABI_CONST(RX_CLS_FLOW_DISC), ABI_CONST(RX_CLS_FLOW_WAKE),
	ABI_CONST(RX_CLS_LOC_SPECIAL), ABI_CONST(RX_CLS_LOC_ANY), ABI_CONST(RX_CLS_LOC_FIRST), ABI_CONST(RX_CLS_LOC_LAST),
	ABI_CONST(ETHTOOL_RX_FLOW_SPEC_RING), ABI_CONST(ETHTOOL_RX_FLOW_SPEC_RING_VF), ABI_CONST(ETHTOOL_RX_FLOW_SPEC_RING_VF_OFF),
	ABI_CONST(ETH_RXFH_CONTEXT_ALLOC),
	ABI_CONST(ETHTOOL_GRXRINGS), ABI_CONST(ETHTOOL_GRXCLSRLCNT), ABI_CONST(ETHTOOL_GRXCLSRULE), ABI_CONST(ETHTOOL_GRXCLSRLALL),
	ABI_CONST(ETHTOOL_SRXCLSRLDEL), ABI_CONST(ETHTOOL_SRXCLSRLINS),
	ABI_CONST(SIOCETHTOOL), ABI_CONST(IFNAMSIZ),
	ABI_CONST(ETHTOOL_GRXFHINDIR), ABI_CONST(ETHTOOL_SRXFHINDIR), ABI_CONST(ETHTOOL_GCHANNELS),
};

static size_t abi_n_members(void) { return sizeof(abi_members) / sizeof(abi_members[0]); }
static struct abi_member abi_member_at(size_t i) { return abi_members[i]; }
static size_t abi_n_sizes(void) { return sizeof(abi_sizes) / sizeof(abi_sizes[0]); }
static struct abi_size abi_size_at(size_t i) { return abi_sizes[i]; }
static size_t abi_n_consts(void) { return sizeof(abi_consts) / sizeof(abi_consts[0]); }
static struct abi_constant abi_const_at(size_t i) { return abi_consts[i]; }
*/
import "C"

// Member is one member of a C struct: offsetof and sizeof.
type Member struct {
	Offset, Size uintptr
}

// Members maps "struct.member.path" (e.g.
// "ethtool_rx_flow_spec.h_u.tcp_ip4_spec.pdst") to its offsetof and sizeof
// from the C headers.
func Members() map[string]Member {
	out := map[string]Member{}
	for i := C.size_t(0); i < C.abi_n_members(); i++ {
		m := C.abi_member_at(i)
		out[C.GoString(m.name)] = Member{Offset: uintptr(m.off), Size: uintptr(m.size)}
	}
	return out
}

// Sizes maps a C type ("struct ethtool_rxnfc") to its sizeof.
func Sizes() map[string]uintptr {
	out := map[string]uintptr{}
	for i := C.size_t(0); i < C.abi_n_sizes(); i++ {
		s := C.abi_size_at(i)
		out[C.GoString(s.name)] = uintptr(s.size)
	}
	return out
}

// Constants maps a C macro name ("FLOW_EXT") to its value.
func Constants() map[string]uint64 {
	out := map[string]uint64{}
	for i := C.size_t(0); i < C.abi_n_consts(); i++ {
		c := C.abi_const_at(i)
		out[C.GoString(c.name)] = uint64(c.value)
	}
	return out
}
