package flows

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Format shows a rule as `ethtool -n DEV rule N` does: "Filter: N", the rule
// type, every field of the flow type with ethtool's inverted mask (bits set
// = ignored), the VLAN/user-def lines with FLOW_EXT, the dst-mac line with
// FLOW_MAC_EXT (whose mask ethtool prints as the kernel has it, not
// inverted), "RSS Context ID" with FLOW_RSS and last the action: "Action:
// Direct to VF 0 queue 0", "Action: Direct to queue N" or "Action: Drop".
// Lines after the first are indented with a tab; there is no final newline,
// so the caller can append to the Action line (e.g. the VF's PCI address).
func Format(fs FlowSpec, rssContext uint32) string {
	b := fs.bytes()
	var sb strings.Builder
	fmt.Fprintf(&sb, "Filter: %d\n", int32(fs.Location))
	ft, ok := flowTypeByValue(fs.BaseType())
	if !ok {
		fmt.Fprintf(&sb, "\tUnknown Flow type: %d\n", fs.BaseType())
	} else {
		if ft.typ == FlowEther {
			fmt.Fprintf(&sb, "\tFlow Type: %s\n", ft.title)
		} else {
			fmt.Fprintf(&sb, "\tRule Type: %s\n", ft.title)
		}
		for _, f := range ft.canonical() {
			if f.ext != 0 {
				continue
			}
			fmt.Fprintf(&sb, "\t%s: %s mask: %s\n", f.label, showValue(f, b[f.off:]), showMask(f, invert(b[f.moff:f.moff+f.kind.size()])))
		}
	}
	if fs.FlowType&FlowExt != 0 {
		for _, f := range []field{extVlanEtypeField, extVlanField, extUserDefField} {
			fmt.Fprintf(&sb, "\t%s: %s mask: %s\n", f.label, showValue(f, b[f.off:]), showMask(f, invert(b[f.moff:f.moff+f.kind.size()])))
		}
	}
	if fs.FlowType&FlowMACExt != 0 {
		f := extDstMACField
		fmt.Fprintf(&sb, "\t%s: %s mask: %s\n", f.label, showValue(f, b[f.off:]), showMask(f, b[f.moff:f.moff+6]))
	}
	if fs.FlowType&FlowRSS != 0 {
		fmt.Fprintf(&sb, "\tRSS Context ID: %d\n", rssContext)
	}
	t := DecodeCookie(fs.RingCookie)
	switch {
	case t.Drop:
		sb.WriteString("\tAction: Drop")
	case t.VF >= 0:
		fmt.Fprintf(&sb, "\tAction: Direct to VF %d queue %d", t.VF, t.Queue)
	default:
		fmt.Fprintf(&sb, "\tAction: Direct to queue %d", t.Queue)
	}
	return sb.String()
}

func invert(m []byte) []byte {
	out := make([]byte, len(m))
	for i, v := range m {
		out[i] = ^v
	}
	return out
}

// showValue prints a value as ethtool -n does.
func showValue(f field, b []byte) string {
	switch f.kind {
	case kindU8:
		if f.name == "l4proto" {
			return strconv.Itoa(int(b[0]))
		}
		return fmt.Sprintf("0x%x", b[0])
	case kindBE16:
		if f.hexOut {
			if f.name == "proto" {
				return fmt.Sprintf("0x%X", binary.BigEndian.Uint16(b))
			}
			return fmt.Sprintf("0x%x", binary.BigEndian.Uint16(b))
		}
		return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
	case kindBE32:
		if f.name == "spi" {
			return strconv.Itoa(int(int32(binary.BigEndian.Uint32(b))))
		}
		return fmt.Sprintf("0x%x", binary.BigEndian.Uint32(b))
	case kindBE64:
		return fmt.Sprintf("0x%x", binary.BigEndian.Uint64(b))
	case kindIP4:
		return netip.AddrFrom4([4]byte(b[:4])).String()
	case kindIP6:
		return netip.AddrFrom16([16]byte(b[:16])).String()
	case kindMAC:
		return fmt.Sprintf("%02X:%02X:%02X:%02X:%02X:%02X", b[0], b[1], b[2], b[3], b[4], b[5])
	}
	return "?"
}

// showMask prints a mask as ethtool -n does (numbers always in hex).
func showMask(f field, m []byte) string {
	switch f.kind {
	case kindU8:
		return fmt.Sprintf("0x%x", m[0])
	case kindBE16:
		if f.name == "proto" {
			return fmt.Sprintf("0x%X", binary.BigEndian.Uint16(m))
		}
		return fmt.Sprintf("0x%x", binary.BigEndian.Uint16(m))
	}
	if f.kind == kindBE32 || f.kind == kindBE64 {
		f.name = ""
	}
	return showValue(f, m)
}

// Words returns canonical ethtool words for a rule, which Parse turns back
// into the same bytes: `flow-type TYPE`, every field whose value or mask is
// not zero (with `m MASK`, ethtool's inverted mask, unless the field is
// matched exactly), `vf K queue Q` when the cookie names a VF and nothing
// else, else `action N` (`action -1` for drop), `context N` with FLOW_RSS
// and `loc N` unless Location is 0 (Parse leaves Location 0 when no loc is
// given). On ip4 and ip6 the four bytes after the addresses are shown as
// l4data (src-port, dst-port and spi name parts of the same bytes).
// Specs that no ethtool command line produces (unknown flow types, bytes
// outside any field, ip_ver other than ETH_RX_NFC_IP4) cannot round trip.
func Words(fs FlowSpec, rssContext uint32) []string {
	b := fs.bytes()
	ft, ok := flowTypeByValue(fs.BaseType())
	if !ok {
		return []string{"flow-type", fmt.Sprintf("%#x", fs.BaseType())}
	}
	words := []string{"flow-type", ft.name}
	extSeen := false
	for _, f := range ft.canonical() {
		switch {
		case f.ext == FlowExt && fs.FlowType&FlowExt == 0,
			f.ext == FlowMACExt && fs.FlowType&FlowMACExt == 0:
			continue
		}
		n := f.kind.size()
		val, mask := b[f.off:f.off+n], b[f.moff:f.moff+n]
		if allZero(val) && allZero(mask) {
			continue
		}
		if f.ext == FlowExt {
			extSeen = true
		}
		words = append(words, f.name, wordValue(f, val))
		if !allOnes(mask) {
			words = append(words, "m", wordMask(f, invert(mask)))
		}
	}
	if fs.FlowType&FlowExt != 0 && !extSeen {
		// FLOW_EXT with an all-zero h_ext/m_ext: a vlan that matches nothing
		// sets the flag and leaves the bytes zero.
		words = append(words, "vlan", "0", "m", "0xffff")
	}
	if fs.FlowType&FlowMACExt != 0 && !contains(words, "dst-mac") {
		words = append(words, "dst-mac", "00:00:00:00:00:00", "m", "ff:ff:ff:ff:ff:ff")
	}
	c := fs.RingCookie
	vf := (c & RingVFMask) >> RingVFShift
	switch {
	case c == RingDrop:
		words = append(words, "action", "-1")
	case vf != 0 && c>>40 == 0:
		words = append(words, "vf", strconv.FormatUint(vf-1, 10), "queue", strconv.FormatUint(c&RingQueueMask, 10))
	case c > 0xffffffff:
		words = append(words, "action", fmt.Sprintf("%#x", c))
	default:
		words = append(words, "action", strconv.FormatUint(c, 10))
	}
	if fs.FlowType&FlowRSS != 0 {
		words = append(words, "context", strconv.FormatUint(uint64(rssContext), 10))
	}
	if fs.Location != 0 {
		words = append(words, "loc", strconv.FormatUint(uint64(fs.Location), 10))
	}
	return words
}

// wordValue prints a value or mask in words Parse reads back.
func wordValue(f field, b []byte) string {
	switch f.kind {
	case kindU8:
		return strconv.Itoa(int(b[0]))
	case kindBE16:
		if f.hexOut && f.name != "vlan" {
			return fmt.Sprintf("0x%04x", binary.BigEndian.Uint16(b))
		}
		return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
	case kindBE32:
		return fmt.Sprintf("0x%08x", binary.BigEndian.Uint32(b))
	case kindBE64:
		return fmt.Sprintf("0x%016x", binary.BigEndian.Uint64(b))
	case kindIP4:
		return netip.AddrFrom4([4]byte(b[:4])).String()
	case kindIP6:
		return netip.AddrFrom16([16]byte(b[:16])).String()
	case kindMAC:
		return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
	}
	return ""
}

// wordMask prints a mask: numbers in hex, addresses as addresses.
func wordMask(f field, b []byte) string {
	switch f.kind {
	case kindU8:
		return fmt.Sprintf("0x%02x", b[0])
	case kindBE16:
		return fmt.Sprintf("0x%04x", binary.BigEndian.Uint16(b))
	}
	return wordValue(f, b)
}

func allZero(b []byte) bool { return allByte(b, 0) }
func allOnes(b []byte) bool { return allByte(b, 0xff) }

func allByte(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}
