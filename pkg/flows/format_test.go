package flows

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// roundTrip checks parse → marshal → unmarshal → Words → Parse → same bytes.
func roundTrip(t testing.TB, words []string) {
	t.Helper()
	r, err := Parse(words)
	if err != nil {
		return
	}
	b1, _ := r.Spec.MarshalBinary()
	var back FlowSpec
	if err := back.UnmarshalBinary(b1); err != nil {
		t.Fatalf("%q: UnmarshalBinary: %v", words, err)
	}
	if back != r.Spec {
		t.Fatalf("%q: unmarshal(marshal(spec)) differs", words)
	}
	canon := Words(back, r.RSSContext)
	r2, err := Parse(canon)
	if err != nil {
		t.Fatalf("%q: Words gave %q, which Parse refuses: %v", words, canon, err)
	}
	b2, _ := r2.Spec.MarshalBinary()
	if !bytes.Equal(b1, b2) || r.RSSContext != r2.RSSContext {
		t.Fatalf("%q → %q: bytes differ\n%s", words, canon, hexDiff(b2, b1))
	}
	if again := Words(r2.Spec, r2.RSSContext); !reflect.DeepEqual(again, canon) {
		t.Fatalf("Words is not a fixed point: %q then %q", canon, again)
	}
}

func TestRoundTrip(t *testing.T) {
	cases := append([][]string{}, cornerCases...)
	for _, row := range readFixture(t) {
		cases = append(cases, row.words)
	}
	accepted := 0
	for _, words := range cases {
		if _, err := Parse(words); err == nil {
			accepted++
		}
		roundTrip(t, words)
	}
	if accepted < 50 {
		t.Fatalf("only %d of %d lines parsed; the round trip proves little", accepted, len(cases))
	}
}

func TestWordsCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"flow-type tcp4 dst-ip 192.168.254.30 dst-port 80 action 4294967296":    "flow-type tcp4 dst-ip 192.168.254.30 dst-port 80 vf 0 queue 0",
		"flow-type udp4 src-ip 10.0.0.0 m 0.0.0.255 dst-port 4789 action 2":     "flow-type udp4 src-ip 10.0.0.0 m 0.0.0.255 dst-port 4789 action 2",
		"flow-type ip4 src-ip 192.0.2.0 m 0.0.0.255 action -1":                  "flow-type ip4 src-ip 192.0.2.0 m 0.0.0.255 action -1",
		"flow-type ip4 src-port 1 dst-port 2":                                   "flow-type ip4 l4data 0x00010002 action 0",
		"flow-type tcp4 dst-port 80 vlan 100 m 0xf000 action 2":                 "flow-type tcp4 dst-port 80 vlan 100 m 0xf000 action 2",
		"flow-type ether proto 0x0800 dst 02:00:00:00:00:01 loc 5 action 1":     "flow-type ether dst 02:00:00:00:00:01 proto 0x0800 action 1 loc 5",
		"flow-type udp4 dst-ip 10.0.0.1 dst-port 53 context 1":                  "flow-type udp4 dst-ip 10.0.0.1 dst-port 53 action 0 context 1",
		"flow-type tcp4 action 0x10000000005":                                   "flow-type tcp4 action 0x10000000005",
		"flow-type tcp6 dst-ip 2001:db8::1 dst-port 443 vf 3 queue 1":           "flow-type tcp6 dst-ip 2001:db8::1 dst-port 443 vf 3 queue 1",
		"flow-type udp4 dst-port 53 dst-mac 02:00:00:00:00:01 action 1":         "flow-type udp4 dst-port 53 dst-mac 02:00:00:00:00:01 action 1",
		"flow-type tcp4 dst-port 80 m 0xffff":                                   "flow-type tcp4 dst-port 80 m 0xffff action 0",
		"flow-type tcp4 vlan 0 m 0xffff":                                        "flow-type tcp4 vlan 0 m 0xffff action 0",
		"flow-type tcp4 dst-mac 00:00:00:00:00:00 m ff:ff:ff:ff:ff:ff action 1": "flow-type tcp4 dst-mac 00:00:00:00:00:00 m ff:ff:ff:ff:ff:ff action 1",
	} {
		r := mustParse(t, in)
		if got := strings.Join(Words(r.Spec, r.RSSContext), " "); got != want {
			t.Errorf("Words(%q)\n got %q\nwant %q", in, got, want)
		}
	}
	if got := Words(FlowSpec{FlowType: 0x42}, 0); !reflect.DeepEqual(got, []string{"flow-type", "0x42"}) {
		t.Errorf("unknown flow type: %q", got)
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		line string
		loc  uint32
		rss  uint32
		want string
	}{
		{"flow-type tcp4 dst-ip 192.168.254.30 dst-port 80 vf 0 queue 0", 2047, 0, `Filter: 2047
	Rule Type: TCP over IPv4
	Src IP addr: 0.0.0.0 mask: 255.255.255.255
	Dest IP addr: 192.168.254.30 mask: 0.0.0.0
	TOS: 0x0 mask: 0xff
	Src port: 0 mask: 0xffff
	Dest port: 80 mask: 0x0
	Action: Direct to VF 0 queue 0`},
		{"flow-type ip4 src-ip 192.0.2.0 m 0.0.0.255 l4proto 17 action -1", 3, 0, `Filter: 3
	Rule Type: Raw IPv4
	Src IP addr: 192.0.2.0 mask: 0.0.0.255
	Dest IP addr: 0.0.0.0 mask: 255.255.255.255
	TOS: 0x0 mask: 0xff
	Protocol: 17 mask: 0x0
	L4 bytes: 0x0 mask: 0xffffffff
	Action: Drop`},
		{"flow-type ether src 02:00:00:00:00:02 m ff:ff:ff:00:00:00 proto 0x86dd action 2", 0, 0, `Filter: 0
	Flow Type: Raw Ethernet
	Src MAC addr: 02:00:00:00:00:02 mask: FF:FF:FF:00:00:00
	Dest MAC addr: 00:00:00:00:00:00 mask: FF:FF:FF:FF:FF:FF
	Ethertype: 0x86DD mask: 0x0
	Action: Direct to queue 2`},
		{"flow-type udp6 dst-ip 2001:db8::1 dst-port 53 vlan 100 m 0xf000 user-def 0x1234 dst-mac 02:00:00:00:00:01 context 4 vf 2 queue 1", 10, 4, `Filter: 10
	Rule Type: UDP over IPv6
	Src IP addr: :: mask: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
	Dest IP addr: 2001:db8::1 mask: ::
	Traffic Class: 0x0 mask: 0xff
	Src port: 0 mask: 0xffff
	Dest port: 53 mask: 0x0
	VLAN EtherType: 0x0 mask: 0xffff
	VLAN: 0x64 mask: 0xf000
	User-defined: 0x1234 mask: 0x0
	Dest MAC addr: 02:00:00:00:00:01 mask: FF:FF:FF:FF:FF:FF
	RSS Context ID: 4
	Action: Direct to VF 2 queue 1`},
		{"flow-type esp4 spi 5 dst-ip 10.0.0.1 action 1", 1, 0, `Filter: 1
	Rule Type: IPSEC ESP over IPv4
	Src IP addr: 0.0.0.0 mask: 255.255.255.255
	Dest IP addr: 10.0.0.1 mask: 0.0.0.0
	TOS: 0x0 mask: 0xff
	SPI: 5 mask: 0x0
	Action: Direct to queue 1`},
	} {
		r := mustParse(t, c.line)
		r.Spec.Location = c.loc
		if got := Format(r.Spec, c.rss); got != c.want {
			t.Errorf("Format(%q)\n got:\n%s\nwant:\n%s", c.line, got, c.want)
		}
	}
	if got := Format(FlowSpec{FlowType: 0x42, RingCookie: 1}, 0); got != "Filter: 0\n\tUnknown Flow type: 66\n\tAction: Direct to queue 1" {
		t.Errorf("unknown flow type: %q", got)
	}
}

func TestCookie(t *testing.T) {
	for _, c := range []struct {
		vf     int
		queue  uint32
		cookie uint64
		str    string
	}{
		{0, 0, 1 << 32, "VF 0 queue 0"},
		{0, 3, 1<<32 | 3, "VF 0 queue 3"},
		{1, 3, 2<<32 | 3, "VF 1 queue 3"},
		{254, 0xffffffff, 0xffffffffff, "VF 254 queue 4294967295"},
		{-1, 0, 0, "PF queue 0"},
		{-1, 5, 5, "PF queue 5"},
	} {
		if got := Cookie(c.vf, c.queue); got != c.cookie {
			t.Errorf("Cookie(%d, %d) = %#x, want %#x", c.vf, c.queue, got, c.cookie)
		}
		tg := DecodeCookie(c.cookie)
		if tg.Drop || tg.VF != c.vf || tg.Queue != c.queue || tg.String() != c.str || tg.Cookie() != c.cookie {
			t.Errorf("DecodeCookie(%#x) = %+v %q", c.cookie, tg, tg)
		}
	}
	if tg := DecodeCookie(RingDrop); !tg.Drop || tg.String() != "drop" || tg.Cookie() != RingDrop {
		t.Errorf("DecodeCookie(RingDrop) = %+v %q", tg, tg)
	}
	// Bits above the VF field are ignored, as the kernel ignores them.
	if tg := DecodeCookie(1<<40 | 2); tg.VF != -1 || tg.Queue != 2 {
		t.Errorf("DecodeCookie(1<<40|2) = %+v", tg)
	}
	// The fixture proves the 1-based VF field: ethtool stored vf N queue M
	// as (N+1)<<32 | M.
	for _, row := range readFixture(t) {
		r, err := Parse(row.words)
		if err != nil {
			continue
		}
		for i, word := range row.words {
			if word == "vf" {
				vf := mustInt(t, row.words[i+1])
				q := mustInt(t, row.words[i+3])
				if want := Cookie(vf, uint32(q)); r.Spec.RingCookie != want {
					t.Errorf("%q: cookie %#x, Cookie(%d, %d) = %#x", row.words, r.Spec.RingCookie, vf, q, want)
				}
			}
		}
	}
}

func mustInt(t *testing.T, s string) int {
	t.Helper()
	v, ok := parseCUint(s, 31)
	if !ok {
		t.Fatalf("not a number: %q", s)
	}
	return int(v)
}

func TestMarshalLayout(t *testing.T) {
	fs := FlowSpec{FlowType: FlowTCPv4 | FlowExt, RingCookie: 0x0102030405060708, Location: 0x0a0b0c0d}
	fs.HU[0], fs.HU[51] = 0x11, 0x12
	fs.HExt.Padding = [2]byte{0x21, 0x22}
	fs.HExt.Data[7] = 0x23
	fs.MU[0], fs.MU[51] = 0x31, 0x32
	fs.MExt.HDest[0] = 0x41
	b := specBytes(t, fs)
	if len(b) != 168 {
		t.Fatalf("%d bytes", len(b))
	}
	if littleEndianHost() {
		for off, want := range map[int]byte{0: 0x01, 3: 0x80, 4: 0x11, 55: 0x12, 56: 0x21, 57: 0x22, 75: 0x23, 76: 0x31, 127: 0x32, 130: 0x41, 152: 0x08, 159: 0x01, 160: 0x0d, 163: 0x0a} {
			if b[off] != want {
				t.Errorf("byte %d = %#x, want %#x", off, b[off], want)
			}
		}
	}
	var back FlowSpec
	if err := back.UnmarshalBinary(b); err != nil || back != fs {
		t.Errorf("UnmarshalBinary: %v, %+v", err, back)
	}
	for _, n := range []int{0, 167, 169} {
		if err := back.UnmarshalBinary(make([]byte, n)); err == nil {
			t.Errorf("UnmarshalBinary accepted %d bytes", n)
		}
	}
}
