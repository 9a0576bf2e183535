package flows

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, line string) Rule {
	t.Helper()
	r, err := Parse(strings.Fields(line))
	if err != nil {
		t.Fatalf("Parse(%q): %v", line, err)
	}
	return r
}

func specBytes(t *testing.T, fs FlowSpec) []byte {
	t.Helper()
	b, err := fs.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syntaxCase is a rule Parse must refuse: the word it must name, its
// position and words the reason and the fix must contain.
type syntaxCase struct {
	words  []string
	word   string
	pos    int
	reason string
	fix    string
}

func checkSyntax(t *testing.T, cases []syntaxCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(strings.Join(c.words, "_"), func(t *testing.T) {
			_, err := Parse(c.words)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v, want *SyntaxError", c.words, err)
			}
			if se.Word != c.word || se.Pos != c.pos {
				t.Errorf("names word %d %q, want %d %q (%v)", se.Pos, se.Word, c.pos, c.word, err)
			}
			if !strings.Contains(se.Reason, c.reason) {
				t.Errorf("reason %q lacks %q", se.Reason, c.reason)
			}
			if !strings.Contains(se.Fix, c.fix) {
				t.Errorf("fix %q lacks %q", se.Fix, c.fix)
			}
			if msg := err.Error(); !strings.Contains(msg, se.Reason) || !strings.Contains(msg, se.Fix) || !strings.Contains(msg, se.Word) {
				t.Errorf("Error() %q does not carry word, reason and fix", msg)
			}
		})
	}
}

func w(s string) []string { return strings.Fields(s) }

func TestParseRejectsFlowType(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{nil, "", 0, "empty rule", "flow-type"},
		{w("tcp4 dst-port 80"), "tcp4", 0, "starts with flow-type", "flow-type tcp4"},
		{w("delete 5"), "delete", 0, "not a rule", "flow-type"},
		{w("flow-type"), "flow-type", 0, "missing flow type", "tcp4, udp4"},
		{w("flow-type tcp"), "tcp", 1, "unknown flow type", "tcp4, udp4, sctp4, ah4, esp4, ip4, tcp6, udp6, sctp6, ah6, esp6, ip6, ether"},
		{w("flow-type TCP4 action 1"), "TCP4", 1, "unknown flow type", "lower case: tcp4"},
		{w("flow-type ah_esp4"), "ah_esp4", 1, "unknown flow type", "ether"},
	})
}

func TestParseRejectsFieldOfOtherFlowType(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type ether dst-port 80"), "dst-port", 2, "flow-type ether has no field dst-port; dst-port is a field of tcp4, udp4, sctp4, ip4, tcp6", "change the flow type"},
		{w("flow-type tcp4 spi 5"), "spi", 2, "spi is a field of ah4, esp4, ip4", "remove spi"},
		{w("flow-type tcp4 l4proto 6"), "l4proto", 2, "l4proto is a field of ip4, ip6", ""},
		{w("flow-type ether src 02:00:00:00:00:01 dst-mac 02:00:00:00:00:02"), "dst-mac", 4, "flow-type ether has no field dst-mac", ""},
		{w("flow-type esp4 src-port 1"), "src-port", 2, "flow-type esp4 has no field src-port", ""},
		{w("flow-type tcp6 tos 4"), "tos", 2, "tclass", "tclass"},
		{w("flow-type udp4 tclass 4"), "tclass", 2, "IPv6 traffic class", "tos"},
		{w("flow-type tcp4 src-mac 02:00:00:00:00:01"), "src-mac", 2, "unknown word", "fields of flow-type tcp4"},
		{w("flow-type tcp4 m 5"), "m", 2, "must follow a field's value", "m MASK"},
		{w("flow-type tcp4 dst-port 80 m 0xff m 0xf"), "m", 6, "must follow a field's value", ""},
		{w("flow-type tcp4 dst-port 80 src-ip-mask 1.2.3.4"), "src-ip-mask", 4, "must follow", ""},
	})
}

func TestParseRejectsMissingValue(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type tcp4 dst-port"), "dst-port", 2, "needs a value", "dst-port 80"},
		{w("flow-type tcp4 dst-port 80 action"), "action", 4, "needs a value", "action N"},
		{w("flow-type tcp4 vf 0 queue"), "queue", 4, "needs a value", "queue M"},
		{w("flow-type tcp4 dst-port 80 m"), "m", 4, "needs a mask value", "m 0x00ff"},
		{w("flow-type tcp4 src-ip 10.0.0.0 src-ip-mask"), "src-ip-mask", 4, "needs a mask value", "m 0.0.0.255"},
		{w("flow-type tcp4 context"), "context", 2, "needs a value", "context N"},
		{w("flow-type tcp4 loc"), "loc", 2, "needs a value", "leave loc out"},
	})
}

func TestParseRejectsBadValues(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type tcp4 dst-port 65536"), "65536", 3, "not a number 0-65535", "dst-port 80"},
		{w("flow-type tcp4 dst-port -1"), "-1", 3, "0-65535", ""},
		{w("flow-type tcp4 dst-port 08"), "08", 3, "0 octal", ""},
		{w("flow-type tcp4 dst-port 0x"), "0x", 3, "0-65535", ""},
		{w("flow-type tcp4 dst-port 80x"), "80x", 3, "0-65535", ""},
		{w("flow-type tcp4 tos 0x100"), "0x100", 3, "0-255", ""},
		{w("flow-type tcp4 src-ip 1.2.3"), "1.2.3", 3, "not an IPv4 address", "src-ip 192.0.2.1"},
		{w("flow-type tcp4 src-ip 01.2.3.4"), "01.2.3.4", 3, "no leading zeros", ""},
		{w("flow-type tcp4 src-ip 2001:db8::1"), "2001:db8::1", 3, "IPv6 address in an IPv4 rule", "tcp6"},
		{w("flow-type tcp6 dst-ip 192.0.2.1"), "192.0.2.1", 3, "IPv4 address in an IPv6 rule", "tcp4"},
		{w("flow-type tcp6 src-ip fe80::1%eth0"), "fe80::1%eth0", 3, "no %zone", ""},
		{w("flow-type ether dst 010203040506"), "010203040506", 3, "not a MAC address", "dst 02:00:00:00:00:01"},
		{w("flow-type ether dst 1:2:3:4:5"), "1:2:3:4:5", 3, "not a MAC address", ""},
		{w("flow-type ether dst 123:2:3:4:5:6"), "123:2:3:4:5:6", 3, "not a MAC address", ""},
		{w("flow-type ether proto 0x10000"), "0x10000", 3, "0-65535", ""},
		{w("flow-type udp4 user-def 0x10000000000000000"), "0x10000000000000000", 3, "64-bit", ""},
		{w("flow-type tcp4 src-ip 10.0.0.0 m 255.255.255"), "255.255.255", 5, "invalid src-ip mask", "bits to IGNORE"},
		{w("flow-type tcp4 src-ip 1.2.3.4 m ::"), "::", 5, "IPv6 address in an IPv4 rule", ""},
		{w("flow-type tcp4 action 18446744073709551616"), "18446744073709551616", 3, "not a 64-bit number", "vf K queue Q"},
		{w("flow-type tcp4 loc 4294967296"), "4294967296", 3, "not a 32-bit location", ""},
		{w("flow-type tcp4 vf 256"), "256", 3, "not a VF index", "virtfnK"},
		{w("flow-type tcp4 vf 0 queue 4294967296"), "4294967296", 5, "32-bit queue", ""},
		{w("flow-type tcp4 context -1"), "-1", 3, "not a 32-bit number", "context 1"},
		{w("flow-type tcp4 context 0xffffffff"), "0xffffffff", 3, "ETH_RXFH_CONTEXT_ALLOC", "context new"},
	})
}

func TestParseRejectsCIDR(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type udp6 src-ip 2001:db8::/64 dst-port 53 action 1"), "2001:db8::/64", 3, "no /prefix", "src-ip 2001:db8:: m ::ffff:ffff:ffff:ffff"},
		{w("flow-type tcp4 dst-ip 10.1.2.3/24"), "10.1.2.3/24", 3, "no /prefix", "dst-ip 10.1.2.0 m 0.0.0.255"},
		{w("flow-type tcp4 dst-ip 10.0.0.0/12"), "10.0.0.0/12", 3, "no /prefix", "dst-ip 10.0.0.0 m 0.15.255.255"},
		{w("flow-type tcp4 dst-ip 10.0.0.0/33"), "10.0.0.0/33", 3, "no /prefix", "dst-ip 192.0.2.1 m 0.0.0.255"},
	})
}

func TestParseRejectsActionConflicts(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type tcp4 action 1 vf 0"), "vf", 4, "action and vf are not compatible", "either action N, or vf N queue M"},
		{w("flow-type tcp4 vf 0 action 1"), "vf", 2, "action and vf are not compatible", ""},
		{w("flow-type tcp4 queue 1 action 1"), "queue", 2, "action and queue are not compatible", ""},
		{w("flow-type tcp4 action 1 vf 0 queue 2"), "queue", 6, "action and queue", ""},
		{w("flow-type tcp4 dst-port 80 queue 3"), "queue", 4, "queue without vf", "action 3 for the PF's queue 3"},
		{w("flow-type tcp4 vf 255 queue 0"), "255", 3, "overflows into bit 40", "0-254"},
		{w("flow-type tcp4 action 1 m 0"), "m", 4, "action takes no mask", "remove m"},
		{w("flow-type tcp4 loc 5 m 1"), "m", 4, "loc takes no mask", ""},
		{w("flow-type tcp4 loc 5 loc-mask 1"), "loc-mask", 4, "loc takes no mask", ""},
	})
}

func TestParseRejectsRepeats(t *testing.T) {
	checkSyntax(t, []syntaxCase{
		{w("flow-type tcp4 dst-port 0x50 dst-port 81"), "dst-port", 4, "dst-port given twice (first as word 3)", "give each field once"},
		{w("flow-type tcp4 action 1 action 2"), "action", 4, "action given twice", "give action once"},
		{w("flow-type tcp4 vf 0 queue 1 queue 2"), "queue", 6, "queue given twice", ""},
		{w("flow-type tcp4 vf 0 vf 1"), "vf", 4, "vf given twice", ""},
		{w("flow-type tcp4 queue 1 vf 0 loc 1 loc 2"), "loc", 8, "loc given twice", ""},
		{w("flow-type ip4 src-port 1 l4data 5"), "l4data", 4, "l4data covers the same bytes as src-port (word 3)", "either l4data/spi or src-port/dst-port"},
		{w("flow-type ip4 l4data 1 src-port 2"), "src-port", 4, "covers the same bytes as l4data", ""},
		{w("flow-type ip6 spi 1 l4data 2"), "l4data", 4, "covers the same bytes as spi", ""},
		{w("flow-type tcp4 vlan 1 vlan 2"), "vlan", 4, "vlan given twice", ""},
	})
}

// TestParseEquivalent: each pair of command lines reaches the kernel as the
// same bytes. Every pair was checked with the real ethtool 6.1
// (tools/ethtool-capture); TestEthtoolDifferential checks the bytes
// against ethtool itself where it is installed.
func TestParseEquivalent(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"flow-type tcp4 dst-ip 192.168.254.30 dst-port 80 action 4294967296", "flow-type tcp4 dst-ip 192.168.254.30 dst-port 80 vf 0 queue 0"},
		{"flow-type tcp4 dst-port 80 vf 0 queue 0", "flow-type tcp4 queue 0 vf 0 dst-port 80"},
		{"flow-type tcp4 vf 3", "flow-type tcp4 action 0x400000000"},
		{"flow-type tcp4 vf 1 queue 3", "flow-type tcp4 action 8589934595"},
		{"flow-type tcp4 vf 254 queue 1", "flow-type tcp4 action 0xff00000001"},
		{"flow-type tcp4 dst-port 010", "flow-type tcp4 dst-port 8"},
		{"flow-type tcp4 dst-port 0x50", "flow-type tcp4 dst-port 80"},
		{"flow-type tcp4 dst-port 0X50", "flow-type tcp4 dst-port +80"},
		{"flow-type tcp4 dst-port 80 dst-port-mask 0xff", "flow-type tcp4 dst-port 80 m 255"},
		{"flow-type tcp4 src-ip 1.2.3.4 src-ip-mask 0.0.0.255", "flow-type tcp4 src-ip 1.2.3.4 m 0.0.0.255"},
		{"flow-type tcp4 action -1", "flow-type tcp4 action 18446744073709551615"},
		{"flow-type tcp4 action -2", "flow-type tcp4 action 0xfffffffffffffffe"},
		{"flow-type tcp4 action -18446744073709551615", "flow-type tcp4 action 1"},
		{"flow-type tcp4 context 1 context 2", "flow-type tcp4 context 2"},
		{"flow-type ether dst 1:2:3:4:5:6xyz", "flow-type ether dst 01:02:03:04:05:06"},
		{"flow-type ether dst 0x:2:3:4:5:6", "flow-type ether dst 00:02:03:04:05:06"},
		{"flow-type ether dst -1:2:3:4:5:6", "flow-type ether dst ff:02:03:04:05:06"},
		{"flow-type ether dst 0A:0b:0C:0d:0E:0f", "flow-type ether dst 0a:0b:0c:0d:0e:0f"},
		{"flow-type ip4 spi 7 l4proto 50", "flow-type ip4 l4proto 50 l4data 7"},
		{"flow-type ip4 src-port 1 dst-port 2", "flow-type ip4 l4data 0x00010002"},
		{"flow-type tcp6 src-ip ::ffff:1.2.3.4", "flow-type tcp6 src-ip ::ffff:102:304"},
		{"flow-type tcp4 dst-port 80 m 0xffff", "flow-type tcp4 dst-port 80 dst-port-mask 65535"},
		{"flow-type tcp4 loc 0x10", "flow-type tcp4 loc 16"},
	} {
		ra, rb := mustParse(t, c.a), mustParse(t, c.b)
		if !bytes.Equal(specBytes(t, ra.Spec), specBytes(t, rb.Spec)) || ra.RSSContext != rb.RSSContext {
			t.Errorf("%q and %q differ:\n%x\n%x", c.a, c.b, specBytes(t, ra.Spec), specBytes(t, rb.Spec))
		}
	}
	// Words that strings.Fields cannot carry: white space and empty words.
	for _, c := range []struct{ a, b []string }{
		{[]string{"flow-type", "tcp4", "dst-port", " 80"}, w("flow-type tcp4 dst-port 80")},
		{[]string{"flow-type", "tcp4", "dst-port", "\t0x50"}, w("flow-type tcp4 dst-port 80")},
		{[]string{"flow-type", "tcp4", "dst-port", ""}, w("flow-type tcp4 dst-port 0")},
		{[]string{"flow-type", "ether", "dst", " 1: 2:3:4:5:6"}, w("flow-type ether dst 01:02:03:04:05:06")},
	} {
		ra, err := Parse(c.a)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.a, err)
		}
		rb := mustParse(t, strings.Join(c.b, " "))
		if !bytes.Equal(specBytes(t, ra.Spec), specBytes(t, rb.Spec)) {
			t.Errorf("%q and %q differ", c.a, c.b)
		}
	}
	for _, bad := range [][]string{
		{"flow-type", "tcp4", "dst-port", "80 "},
		{"flow-type", "tcp4", "dst-port", " "},
		{"flow-type", "tcp4", "src-ip", " 1.2.3.4"},
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted what ethtool refuses", bad)
		}
	}
}

func TestParseRuleFields(t *testing.T) {
	r := mustParse(t, "flow-type udp4 dst-ip 10.0.0.1 dst-port 53 context 7 loc 9")
	if !r.HasLoc || r.Spec.Location != 9 || r.HasAction || r.RSSContext != 7 || r.Spec.FlowType != FlowUDPv4|FlowRSS {
		t.Errorf("rule %+v", r)
	}
	if r.NeedsLocation() {
		t.Error("loc 9 given, NeedsLocation true")
	}
	if got := strings.Join(r.Words, " "); got != "flow-type udp4 dst-ip 10.0.0.1 dst-port 53 context 7 loc 9" {
		t.Errorf("Words %q", got)
	}
	for line, needs := range map[string]bool{
		"flow-type tcp4 action 1":                    true,
		"flow-type tcp4 action 1 loc 0":              false,
		"flow-type tcp4 action 1 loc 0xffffffff":     true,
		"flow-type tcp4 action 1 loc 2147483648":     true,
		"flow-type tcp4 action 1 loc 2147483647":     false,
		"flow-type tcp4 vf 2 queue 1 loc 4294967293": true,
	} {
		if got := mustParse(t, line).NeedsLocation(); got != needs {
			t.Errorf("%q: NeedsLocation %v, want %v", line, got, needs)
		}
	}
	r = mustParse(t, "flow-type tcp4 vf 2")
	if !r.HasAction || r.Spec.RingCookie != 3<<32 {
		t.Errorf("vf 2 alone: HasAction %v cookie %#x", r.HasAction, r.Spec.RingCookie)
	}
	words := []string{"flow-type", "tcp4", "action", "1"}
	r, _ = Parse(words)
	words[3] = "2"
	if r.Words[3] != "1" {
		t.Error("Rule.Words shares the caller's slice")
	}
}
