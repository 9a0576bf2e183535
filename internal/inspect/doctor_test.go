package inspect_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

// doctor with a name that cannot be an interface is bad usage (exit 2); an
// unknown but valid name is a failed check (exit 1).
func TestDoctorPFName(t *testing.T) {
	t.Parallel()
	_, h := simtest.Host(t, hostsim.Options{})
	for name, want := range map[string]string{"../../x": "*outcome.BadInput", "eth 3": "*outcome.BadInput", "eth9": "*outcome.RolledBack", "eth3": "<nil>"} {
		if _, err := inspect.Doctor(h, name); fmt.Sprintf("%T", outcome.Of(err)) != want || (want == "<nil>") != (err == nil) {
			t.Errorf("doctor %q: %v (outcome %T), want %s", name, err, outcome.Of(err), want)
		}
	}
}

// doctor's modes: the 82599 runs both and queue mode is recommended (15 of
// 16 queues stay with the kernel, 4 of 16 in vf mode); the lab's igb has a
// table and XDP but no ntuple, so neither mode runs whole.
func TestDoctorModes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		o         hostsim.Options
		rec       string
		vf, queue string // kernel queues
		lacks     string
	}{
		{"82599", hostsim.Options{}, setup.ModeQueue, "4 of 16 RX queues (2 with more than 31 VFs)", "15 of 16 RX queues", ""},
		{"82576 on 2 vCPUs", hostsim.Options{Model: "82576", CPUs: 2}, "", "2 of 2 RX queues", "1 of 2 RX queues", "ntuple filters"},
		{"82576 on 1 vCPU", hostsim.Options{Model: "82576", CPUs: 1}, "", "1 of 1 RX queues", "", "a second RX queue"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, h := simtest.Host(t, c.o)
			res, err := inspect.Doctor(h, "eth3")
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Modes) != 2 || res.RecommendedMode != c.rec {
				t.Fatalf("modes %+v, recommended %q", res.Modes, res.RecommendedMode)
			}
			vf, queue := res.Modes[0], res.Modes[1]
			if vf.KernelQueues != c.vf || queue.KernelQueues != c.queue {
				t.Errorf("kernel queues: vf %q, queue %q", vf.KernelQueues, queue.KernelQueues)
			}
			if c.lacks != "" && !slices.ContainsFunc(queue.Lacks, func(s string) bool { return strings.Contains(s, c.lacks) }) {
				t.Errorf("queue mode lacks %v, want %q", queue.Lacks, c.lacks)
			}
		})
	}
}
