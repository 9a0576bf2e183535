package rx

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseFlow(t *testing.T) {
	for _, tc := range []struct {
		in, err string
		want    Flow
	}{
		{in: "udp dst-ip 10.0.0.2 dst-port 4789", want: Flow{Proto: 17, Dst: netip.MustParseAddr("10.0.0.2"), DstPort: 4789}},
		{in: "tcp4 src-ip 192.0.2.1 src-port 80", want: Flow{Proto: 6, Src: netip.MustParseAddr("192.0.2.1"), SrcPort: 80}},
		{in: "proto 47 dst-ip 10.0.0.1", want: Flow{Proto: 47, Dst: netip.MustParseAddr("10.0.0.1")}},
		{in: "", want: Flow{}},
		{in: "udp dst-port", err: "needs a value"},
		{in: "udp dst-ip fe80::1", err: "not an IPv4 address"},
		{in: "udp dst-port 0", err: "not a port"},
		{in: "sctp", err: "unknown word"},
		{in: "proto 47 dst-port 1", err: "ports need tcp or udp"},
	} {
		got, err := ParseFlow(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseFlow(%q) = %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseFlow(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if again, err := ParseFlow(got.String()); tc.in != "" && (err != nil || again != got) {
			t.Errorf("ParseFlow(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

func TestPortConfigDefaultsAndLimits(t *testing.T) {
	c := (&PortConfig{}).withDefaults()
	if c.RxQueues != 1 || c.TxQueues != 1 || c.Mbufs != 8191 || c.MbufCache != 256 {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	if c := (&PortConfig{NoTx: true}).withDefaults(); c.TxQueues != 0 {
		t.Errorf("NoTx: %d TX queues", c.TxQueues)
	}
	for _, bad := range []PortConfig{{RxQueues: 129}, {MbufCache: 513}, {Mbufs: 300, MbufCache: 256}, {RxDesc: 70000}} {
		b := bad.withDefaults()
		if err := b.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
