package flows

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// shimSource is the project's ethtool capture shim; CI checks shared/ out
// next to the repository.
const shimSource = "../../../shared/tools/ethtool-capture/shim.c"

// ethtoolCapture builds the LD_PRELOAD shim and returns a function that runs
// the real `ethtool -N capture0 WORDS...` against it: the struct
// ethtool_rxnfc ethtool inserted, or ok=false when ethtool refused the words.
func ethtoolCapture(t *testing.T) func(words []string) (rxnfc []byte, ok bool) {
	t.Helper()
	if _, err := os.Stat(shimSource); err != nil {
		t.Skipf("no ethtool capture shim at %s (shared/ is not checked out next to the repository): %v", shimSource, err)
	}
	ethtool, err := exec.LookPath("ethtool")
	if err != nil {
		t.Skip("ethtool is not installed (apt package ethtool)")
	}
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc is not installed (apt package gcc)")
	}
	out, err := exec.Command(ethtool, "--version").Output()
	if err != nil || !strings.Contains(string(out), "version 6.1") {
		t.Skipf("the fixture and this test are for ethtool 6.1; found %q (%v)", strings.TrimSpace(string(out)), err)
	}
	dir := t.TempDir()
	so := filepath.Join(dir, "shim.so")
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-o", so, shimSource, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("build the shim: %v\n%s", err, out)
	}
	n := 0
	return func(words []string) ([]byte, bool) {
		n++
		dump := filepath.Join(dir, fmt.Sprintf("dump%d", n))
		cmd := exec.Command(ethtool, append([]string{"-N", "capture0"}, words...)...)
		cmd.Env = append(os.Environ(), "LD_PRELOAD="+so, "SHIM_OUT="+dump)
		if err := cmd.Run(); err != nil {
			if _, ok := err.(*exec.ExitError); !ok {
				t.Fatalf("run ethtool: %v", err)
			}
			return nil, false
		}
		text, err := os.ReadFile(dump)
		if err != nil {
			t.Fatalf("ethtool accepted %q but the shim wrote nothing: %v", words, err)
		}
		b, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
		if err != nil || len(b) != rxnfcSize {
			t.Fatalf("shim dump for %q: %d bytes, %v", words, len(b), err)
		}
		return b, true
	}
}

// TestEthtoolDifferential runs every corner case and fixture row through the
// real ethtool 6.1 and Parse: where ethtool accepts, Parse gives the same
// struct ethtool_rx_flow_spec and rss_context (or refuses on purpose, see
// knownDivergence); where ethtool refuses, Parse refuses.
func TestEthtoolDifferential(t *testing.T) {
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
