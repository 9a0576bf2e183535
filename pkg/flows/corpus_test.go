package flows

import "strings"

// cornerCases are command lines at the edges of ethtool's grammar, accepted
// and refused; TestEthtoolDifferential runs each through the real ethtool,
// the round-trip test and the fuzz seeds use them too.
var cornerCases = [][]string{
	w("flow-type tcp4"),
	w("flow-type tcp4 dst-port 010"),
	w("flow-type tcp4 dst-port 08"),
	w("flow-type tcp4 dst-port 0x"),
	w("flow-type tcp4 dst-port 0x50 dst-port 81"),
	w("flow-type tcp4 dst-port +80"),
	w("flow-type tcp4 dst-port -1"),
	w("flow-type tcp4 dst-port -0"),
	w("flow-type tcp4 dst-port 65535 m 0xffff"),
	w("flow-type tcp4 dst-port 80 dst-port-mask 0xff"),
	w("flow-type tcp4 dst-port 80 m 0xff m 0xf"),
	w("flow-type tcp4 dst-port 80 src-ip-mask 1.2.3.4"),
	w("flow-type tcp4 src-ip 1.2.3.4 src-ip-mask 255.0.0.0"),
	w("flow-type tcp4 src-ip 1.2.3.4 m ::"),
	w("flow-type tcp4 src-ip 01.2.3.4"),
	w("flow-type tcp4 src-ip 1.2.3"),
	w("flow-type tcp4 src-ip 1.2.3.4.5"),
	w("flow-type tcp4 src-ip 0x1.2.3.4"),
	w("flow-type tcp4 src-ip 255.255.255.255 dst-ip 0.0.0.0 tos 255 src-port 1 dst-port 2"),
	w("flow-type tcp4 src-ip 10.0.0.0/8"),
	w("flow-type tcp4 tos 0x100"),
	w("flow-type tcp4 tos 0377"),
	w("flow-type tcp4 tclass 1"),
	w("flow-type tcp4 m 5"),
	w("flow-type tcp4 action -1"),
	w("flow-type tcp4 action -2"),
	w("flow-type tcp4 action -18446744073709551615"),
	w("flow-type tcp4 action 18446744073709551616"),
	w("flow-type tcp4 action 0x100000001"),
	w("flow-type tcp4 action 1 action 2"),
	w("flow-type tcp4 action 1 vf 0"),
	w("flow-type tcp4 vf 0 action 1"),
	w("flow-type tcp4 queue 1 action 1"),
	w("flow-type tcp4 action 1 m 0"),
	w("flow-type tcp4 vf 0 queue 1 queue 2"),
	w("flow-type tcp4 vf 3"),
	w("flow-type tcp4 vf 254 queue 7"),
	w("flow-type tcp4 vf 256"),
	w("flow-type tcp4 queue 1 vf 0 loc 1"),
	w("flow-type tcp4 queue 1 vf 0 loc 1 loc 2"),
	w("flow-type tcp4 loc 0xffffffff"),
	w("flow-type tcp4 loc 0x80000000"),
	w("flow-type tcp4 loc 4294967296"),
	w("flow-type tcp4 loc 5 m 1"),
	w("flow-type tcp4 loc 3000"),
	w("flow-type tcp4 context 1 context 2"),
	w("flow-type tcp4 context 0xffffffff"),
	w("flow-type tcp4 context 0xfffffffe action 1"),
	w("flow-type tcp4 context -1"),
	w("flow-type tcp4 vlan-etype 0x8100 vlan 5 m 0xf000 user-def 0x100000002 m 0xffff"),
	w("flow-type tcp4 vlan 1 vlan 2"),
	w("flow-type tcp4 dst-mac 02:00:00:00:00:01 m 00:00:00:00:00:ff"),
	w("flow-type udp4 src-port 1 dst-port 2 tos 3 vf 1 queue 2"),
	w("flow-type sctp4 src-ip 192.0.2.1 m 0.0.0.255 action 3"),
	w("flow-type ah4 spi 5 src-ip 10.0.0.1"),
	w("flow-type esp4 spi 0xffffffff m 0xff tos 4"),
	w("flow-type esp4 src-port 1"),
	w("flow-type ip4 src-port 1 dst-port 2"),
	w("flow-type ip4 src-port 1 l4data 5"),
	w("flow-type ip4 l4data 1 src-port 2"),
	w("flow-type ip4 spi 7 l4proto 50"),
	w("flow-type ip4 l4data 0xdeadbeef m 0xffff l4proto 6 m 0xf0"),
	w("flow-type ip4 dst-port 4789"),
	w("flow-type tcp6 src-ip ::ffff:1.2.3.4"),
	w("flow-type tcp6 src-ip fe80::1%eth0"),
	w("flow-type tcp6 src-ip 2001:db8::/64"),
	w("flow-type tcp6 dst-ip 2001:db8::1 m ::ff tclass 0x10 src-port 22 action 2"),
	w("flow-type tcp6 dst-ip 192.0.2.1"),
	w("flow-type udp6 src-port 1 dst-port 2 tclass 3"),
	w("flow-type sctp6 dst-ip ::1 dst-port 9899 vf 0 queue 1"),
	w("flow-type ah6 spi 5"),
	w("flow-type esp6 spi 5 tclass 1 dst-ip 2001:DB8::A"),
	w("flow-type ip6 src-port 1 dst-port 2"),
	w("flow-type ip6 tos 1"),
	w("flow-type ip6 l4proto 58 l4data 0x01000000 m 0x00ffffff"),
	w("flow-type ip6 spi 1 l4data 2"),
	w("flow-type ether dst 1:2:3:4:5:6xyz"),
	w("flow-type ether dst 0x:2:3:4:5:6"),
	w("flow-type ether dst -1:2:3:4:5:6"),
	w("flow-type ether dst +1:2:3:4:5:6"),
	w("flow-type ether dst 010203040506"),
	w("flow-type ether dst 1:2:3:4:5"),
	w("flow-type ether dst 123:2:3:4:5:6"),
	w("flow-type ether dst 1-2-3-4-5-6"),
	w("flow-type ether src 02:00:00:00:00:02 m ff:ff:ff:00:00:00 dst-mac 1:2:3:4:5:6"),
	w("flow-type ether src aa:bb:cc:dd:ee:ff proto 0x86dd m 0xff vlan 100 user-def 7"),
	w("flow-type ether proto 0x10000"),
	w("flow-type TCP4"),
	w("flow-type tcp"),
	w("flow-type"),
	{"flow-type", "tcp4", "dst-port", " 80"},
	{"flow-type", "tcp4", "dst-port", "80 "},
	{"flow-type", "tcp4", "dst-port", ""},
	{"flow-type", "tcp4", "dst-port", " "},
	{"flow-type", "tcp4", "src-ip", " 1.2.3.4"},
	{"flow-type", "ether", "dst", " 1: 2:3:4:5:6"},
	{"flow-type", "ether", "dst", "1 :2:3:4:5:6"},
	// found by FuzzParse: a zero value with a mask of ff..fe bytes
	{"flow-type", "tcp4", "dst-port", "", "m", "0X1"},
	w("flow-type tcp4 dst-port 0 m 0x1 src-ip 0.0.0.0 m 0.0.0.1 dst-mac 0:0:0:0:0:0 m 0:0:0:0:0:1"),
	// Accepted by ethtool 6.1, refused by Parse on purpose (see Parse).
	w("flow-type tcp4 dst-port"),
	w("flow-type tcp4 dst-port 80 action"),
	w("flow-type tcp4 queue 3"),
	w("flow-type tcp4 vf 255 queue 1"),
}

// knownDivergence reports whether err is one of Parse's deliberate
// refusals of input ethtool 6.1 accepts.
func knownDivergence(err error) bool {
	se, ok := err.(*SyntaxError)
	if !ok {
		return false
	}
	for _, s := range []string{"needs a value", "queue without vf", "vf 255 does not fit"} {
		if strings.Contains(se.Reason, s) {
			return true
		}
	}
	return false
}
