package main

import (
	"strings"
	"testing"
)

// Numbers are decimal in flags and in the config alike: a leading zero
// (octal to strtol and YAML 1.1) and a 0x prefix are refused with the
// reason, before anything is touched.
func TestNumbersAreDecimal(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "eth3", "--vfs", "2", "--vlan", "0100"}, `--vlan "0100" has a leading zero`},
		{[]string{"up", "eth3", "--vfs", "010"}, `--vfs "010" has a leading zero`},
		{[]string{"up", "eth3", "--vfs", "2", "--vf", "0,01"}, `--vf "0,01" has a leading zero`},
		{[]string{"up", "eth3", "--vfs", "2", "--vf", "0x1"}, `--vf "0x1" is not a decimal number`},
		{[]string{"up", "eth3", "--mode", "queue", "--queue", "02"}, `--queue "02" has a leading zero`},
		{[]string{"steer", "add", "eth3", "--vf", "00", "flow-type", "tcp4", "dst-port", "80"}, "has a leading zero"},
		{[]string{"steer", "add", "eth3", "--queue", "0x1", "flow-type", "tcp4", "dst-port", "80"}, "is not a decimal number"},
	} {
		code, _, e := vfb(append(g, c.args...)...)
		if code != 2 || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, code, c.want, e)
		}
	}
	code, _, e := vfbIn(t, "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    vlan: 0100\n", append(g, "up", "--config", "-")...)
	if code != 2 || !strings.Contains(e, "vf[0].vlan: 0100 has a leading zero") {
		t.Errorf("config vlan: 0100: exit %d, want 2 saying it has a leading zero:\n%s", code, e)
	}
	if s := snapshot(t, state); s != "" {
		t.Errorf("a refused number left a state directory: %s", s)
	}
	code, _, e = vfb(append(g, "up", "eth3", "--vfs", "2", "--vf", "1", "--vlan", "100", "--dry-run")...)
	if code != 0 {
		t.Errorf("decimal numbers: exit %d: %s", code, e)
	}
}

// A loc with RX_CLS_LOC_SPECIAL set (4294967294 is RX_CLS_LOC_FIRST) is
// refused on ixgbe, which does not pick locations itself: ethtool would
// put the rule at the last free location, not the first.
func TestSpecialLocRefused(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(g, "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatalf("up: exit %d: %s", code, e)
	}
	before := snapshot(t, state)
	code, _, e := vfb(append(g, "steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80", "loc", "4294967294")...)
	if code != 2 || !strings.Contains(e, "RX_CLS_LOC_FIRST") {
		t.Fatalf("loc 4294967294: exit %d, want 2 naming RX_CLS_LOC_FIRST:\n%s", code, e)
	}
	if got := snapshot(t, state); got != before {
		t.Errorf("the refusal changed the journal: %s", firstDiff(before, got))
	}
}
