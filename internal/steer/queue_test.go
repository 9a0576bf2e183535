package steer_test

import (
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/steer"
	"github.com/vfbypass/vfbypass/pkg/flows"
)

func hasWarning(r *steer.Result, part string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, part) {
			return true
		}
	}
	return false
}

// A PF queue target (no VF field in ring_cookie) warns while the queue is
// still in the RSS indirection table, not once it is taken out, and a queue
// at or above the RX ring count is refused with the count (exit 2).
func TestPFQueueTargetAndRSSWarning(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{Ntuple: true}, 0)
	add := func(rule string, q uint32) (*steer.Result, error) {
		return steer.Add(l.h, l.store, "eth3", steer.Request{Words: words(rule), Queue: q, PFQueue: true}, l.opts())
	}
	res, err := add("flow-type udp4 dst-port 4789", 15)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Rules[0]; r.Target.VF != -1 || r.Target.Queue != 15 {
		t.Errorf("target %+v, want PF queue 15", r.Target)
	}
	if !hasWarning(res, "queue 15 also receives RSS traffic: 8 of the 128 entries of eth3's RSS indirection table point at it") {
		t.Errorf("no shared-queue warning: %v", res.Warnings)
	}
	dev, err := l.h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	fs, _, err := dev.Rule(res.Rules[0].Location)
	if err != nil || fs.RingCookie != 15 {
		t.Errorf("installed ring_cookie %#x, %v; want 15 (VF field 0: the PF)", fs.RingCookie, err)
	}
	// Queue 15 out of RSS (what up --mode queue writes): no warning.
	hidden, err := flows.WeightIndir(128, []uint32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.h.Ethtool.SetIndir("eth3", hidden); err != nil {
		t.Fatal(err)
	}
	res, err = add("flow-type udp4 dst-port 4790", 15)
	if err != nil || hasWarning(res, "RSS traffic") {
		t.Errorf("hidden queue: %v, warnings %v", err, res.Warnings)
	}
	_, err = add("flow-type udp4 dst-port 4791", 16)
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "targets PF queue 16, but eth3 has 16 RX queues") {
		t.Errorf("queue 16 of 16: %v (outcome %T)", err, outcome.Of(err))
	}
}

// HiddenQueueIndir keeps the table within ETHTOOL_GRXRINGS (16 on an
// 82599 with 63 channels) and leaves out the hidden queue; a queue at or
// above GRXRINGS needs no table at all.
func TestHiddenQueueIndir(t *testing.T) {
	t.Parallel()
	tbl, needed, err := steer.HiddenQueueIndir(128, 16, 3)
	if err != nil || !needed || len(tbl) != 128 {
		t.Fatalf("queue 3 of 16 rings: %v needed %v, %v", tbl, needed, err)
	}
	used := map[uint32]bool{}
	for _, q := range tbl {
		used[q] = true
	}
	if used[3] || len(used) != 15 {
		t.Errorf("table uses %v; want the 15 rings but 3", used)
	}
	if tbl, needed, err := steer.HiddenQueueIndir(128, 16, 40); err != nil || needed || tbl != nil {
		t.Errorf("queue 40 of 16 rings: %v needed %v, %v; want no table", tbl, needed, err)
	}
}
