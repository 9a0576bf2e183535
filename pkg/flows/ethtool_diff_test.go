package flows

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/vfbypass/vfbypass/tools/ethtool-capture/capture"
)

// ethtoolCapture returns a function that runs the real `ethtool -N
// capture0 WORDS...` under the project's tracer
// (tools/ethtool-capture/capture, no device needed): the struct
// ethtool_rxnfc ethtool inserted, or ok=false when ethtool refused the
// words.
func ethtoolCapture(t *testing.T) func(words []string) (rxnfc []byte, ok bool) {
	t.Helper()
	ethtool, err := exec.LookPath("ethtool")
	if err != nil {
		t.Skip("ethtool is not installed (apt package ethtool)")
	}
	out, err := exec.Command(ethtool, "--version").Output()
	if err != nil || !strings.Contains(string(out), "version 6.1") {
		t.Skipf("the fixture and this test are for ethtool 6.1; found %q (%v)", strings.TrimSpace(string(out)), err)
	}
	if _, err := capture.Run(ethtool, "capture0", []string{"flow-type", "tcp4", "action", "0"}); errors.Is(err, capture.ErrUnsupported) {
		t.Skip(err)
	} else if errors.Is(err, syscall.EPERM) {
		t.Skipf("ptrace is not allowed here (%v)", err)
	} else if err != nil {
		t.Fatal(err)
	}
	return func(words []string) ([]byte, bool) {
		r, err := capture.Run(ethtool, "capture0", words)
		if err != nil {
			t.Fatalf("capture ethtool %q: %v", words, err)
		}
		if !r.Accepted {
			return nil, false
		}
		if len(r.Rxnfc) != rxnfcSize {
			t.Fatalf("ethtool %q: struct ethtool_rxnfc of %d bytes, want %d", words, len(r.Rxnfc), rxnfcSize)
		}
		return r.Rxnfc, true
	}
}

// TestEthtoolDifferential runs every corner case and fixture row through the
// real ethtool 6.1 and Parse: where ethtool accepts, Parse gives the same
// struct ethtool_rx_flow_spec and rss_context (or refuses on purpose, see
// knownDivergence); where ethtool refuses, Parse refuses.
func TestEthtoolDifferential(t *testing.T) {
	t.Parallel()
	if !littleEndianHost() {
		t.Skip("compares little-endian dumps")
	}
	capture := ethtoolCapture(t)
	cases := append([][]string{}, cornerCases...)
	for _, row := range readFixture(t) {
		cases = append(cases, row.words)
	}
	agreeAccept, agreeReject, diverge := 0, 0, 0
	for _, words := range cases {
		switch compareWithEthtool(t, capture, words) {
		case bothAccept:
			agreeAccept++
		case bothRefuse:
			agreeReject++
		case parseRefusesOnPurpose:
			diverge++
		}
	}
	t.Logf("%d command lines: %d accepted by both, %d refused by both, %d refused only by Parse on purpose", len(cases), agreeAccept, agreeReject, diverge)
	if diverge != 4 {
		t.Errorf("%d deliberate divergences, want the 4 listed at the end of cornerCases", diverge)
	}
}

// verdict is how Parse and ethtool agreed on one command line.
type verdict int

const (
	disagree verdict = iota
	bothAccept
	bothRefuse
	parseRefusesOnPurpose
)

// compareWithEthtool runs words through the real ethtool (capture) and
// Parse: where ethtool accepts, Parse must give the same struct
// ethtool_rx_flow_spec and rss_context (or refuse on purpose, see
// knownDivergence); where ethtool refuses, Parse must refuse. Disagreements
// are test errors.
func compareWithEthtool(t *testing.T, capture func([]string) ([]byte, bool), words []string) verdict {
	t.Helper()
	want, ethtoolOK := capture(words)
	r, err := Parse(words)
	switch {
	case !ethtoolOK && err == nil:
		t.Errorf("%q: ethtool refuses, Parse accepts", words)
		return disagree
	case !ethtoolOK:
		return bothRefuse
	case err != nil && knownDivergence(err):
		return parseRefusesOnPurpose
	case err != nil:
		t.Errorf("%q: ethtool accepts, Parse refuses: %v", words, err)
		return disagree
	}
	if r.NeedsLocation() {
		r.Spec.Location = 2047 // ethtool's pick in the shim's empty 2048-entry table
	}
	if got := specBytes(t, r.Spec); !bytes.Equal(got, want[rxnfcFS:rxnfcFS+FlowSpecSize]) {
		t.Errorf("%q: bytes differ from ethtool's\n%s", words, hexDiff(got, want[rxnfcFS:rxnfcFS+FlowSpecSize]))
	}
	if r.Spec.FlowType&FlowRSS != 0 {
		if rss := binary.LittleEndian.Uint32(want[rxnfcRSSContext:]); rss != r.RSSContext {
			t.Errorf("%q: rss_context %d, ethtool %d", words, r.RSSContext, rss)
		}
	}
	return bothAccept
}
