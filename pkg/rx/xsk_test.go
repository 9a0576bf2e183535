package rx

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestAFXDPVdev(t *testing.T) {
	got, err := AFXDPVdev("eth3", 1)
	if want := "net_af_xdp0,iface=eth3,start_queue=1,queue_count=1"; err != nil || got != want {
		t.Fatalf("AFXDPVdev(eth3, 1) = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"", "eth3,start_queue=2", "a/b", "sixteen-chars-xx"} {
		if _, err := AFXDPVdev(bad, 0); !errors.Is(err, ErrNotAFXDP) {
			t.Errorf("AFXDPVdev(%q) = %v, want ErrNotAFXDP", bad, err)
		}
	}
	if _, err := AFXDPVdev("eth3", -1); err == nil {
		t.Error("queue -1 accepted")
	}
}

func TestXDPAttachMode(t *testing.T) {
	for mode, want := range map[uint32]string{0: "none", 1: "native", 2: "generic", 3: "offload", 4: "multi", 9: "unknown 9"} {
		if got := xdpAttachMode(&netlink.LinkXdp{AttachMode: mode}); got != want {
			t.Errorf("IFLA_XDP_ATTACHED %d: %q, want %q", mode, got, want)
		}
	}
	if got := xdpAttachMode(nil); got != "none" {
		t.Errorf("no IFLA_XDP: %q", got)
	}
	if s := (XSKMode{ZeroCopy: false, XDPMode: "generic"}).String(); s != "copy mode (XDP program generic)" {
		t.Errorf("String: %q", s)
	}
}
