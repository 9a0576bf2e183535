package capture_test

import (
	"encoding/binary"
	"errors"
	"os/exec"
	"testing"

	"github.com/vfbypass/vfbypass/tools/ethtool-capture/capture"
)

// ethtool inserts what it was told, at the last location of the traced
// device's table, and a refused command line is reported as refused.
func TestCapture(t *testing.T) {
	ethtool, err := exec.LookPath("ethtool")
	if err != nil {
		t.Skip("ethtool is not installed (apt package ethtool)")
	}
	r, err := capture.Run(ethtool, "capture0", []string{"flow-type", "udp4", "dst-port", "4789", "vf", "1", "queue", "2"})
	if errors.Is(err, capture.ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil || !r.Accepted || len(r.Rxnfc) != capture.RxnfcSize {
		t.Fatalf("%+v %v", r, err)
	}
	fs := r.Rxnfc[16:]
	if ft := binary.NativeEndian.Uint32(fs); ft != 0x02 { // UDP_V4_FLOW
		t.Errorf("flow_type %#x", ft)
	}
	if p := binary.BigEndian.Uint16(fs[4+10:]); p != 4789 { // h_u.udp_ip4_spec.pdst
		t.Errorf("pdst %d", p)
	}
	if c := binary.NativeEndian.Uint64(fs[152:]); c != 2<<32|2 { // ring_cookie: VF field 1-based
		t.Errorf("ring_cookie %#x", c)
	}
	if l := binary.NativeEndian.Uint32(fs[160:]); l != capture.TableSize-1 {
		t.Errorf("location %d, want %d", l, capture.TableSize-1)
	}
	r, err = capture.Run(ethtool, "capture0", []string{"flow-type", "udp4", "bogus", "1"})
	if err != nil || r.Accepted || r.Rxnfc != nil || r.Stderr == "" {
		t.Fatalf("refused words: %+v %v", r, err)
	}
}
