package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// up --mode queue through the CLI: JSON with the rss.indir, lro and ntuple
// diff, status shows the table and no drift (status --check exit 0), down
// puts the simulated host back byte for byte; bad queue-mode input is
// exit 2.
func TestCLIQueueMode(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	before := simtest.Snapshot(t, root)
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	run := func(args ...string) (int, string, string) {
		return vfb(append(append([]string{}, g...), args...)...)
	}
	code, out, errOut := run("up", "eth3", "--mode", "queue", "--queue", "15")
	var r struct {
		Changed bool `json:"changed"`
		Diff    []struct {
			Field, Before, After string
		} `json:"diff"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 || !r.Changed {
		t.Fatalf("up --mode queue: %d %v\n%s\n%s", code, err, out, errOut)
	}
	fields := map[string]string{}
	for _, d := range r.Diff {
		fields[d.Field] = d.After
	}
	if fields["ntuple"] != "on" || fields["lro"] != "off" || !strings.HasPrefix(fields["rss.indir"], "0*8 1*9") || strings.Contains(fields["rss.indir"], "15") {
		t.Errorf("diff %+v", r.Diff)
	}
	code, out, _ = run("status", "eth3", "--check")
	if code != 0 || !strings.Contains(out, `"rss_indir": "0*8 1*9`) {
		t.Errorf("status --check: %d\n%s", code, out)
	}
	if code, out, _ := run("down", "eth3"); code != 0 {
		t.Fatalf("down: %d %s", code, out)
	}
	if after := snapshotOf(t, root); after != before {
		t.Error("down did not restore the host byte for byte")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "eth3", "--mode", "queue"}, "needs --queue"},
		{[]string{"up", "eth3", "--mode", "queue", "--queue", "16"}, "--queue 16: eth3 has 16 RX queues"},
		{[]string{"up", "eth3", "--mode", "queue", "--queue", "1", "--xdp-mode", "fast"}, "--xdp-mode"},
		{[]string{"up", "eth3", "--mode", "bogus", "--vfs", "1"}, "--mode"},
	} {
		if code, out, errOut := run(c.args...); code != 2 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("%v: exit %d, %s %s", c.args, code, out, errOut)
		}
	}
}

// A queue-mode up killed while its LRO or table write hangs leaves a
// pending record from which down restores the simulated host byte for byte.
func TestQueueModeKilledMidUpDownRestores(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	// An ethtool-set fault holds the write itself (reads of the feature or
	// table before it do not count).
	for _, match := range []string{"eth3/" + host.LROFeature, "eth3/indir"} {
		t.Run(match, func(t *testing.T) {
			killHeldUpThenDown(t, bin, hostsim.Fault{Op: "ethtool-set", Match: match}, "up", "eth3", "--mode", "queue", "--queue", "2")
		})

	}
}
