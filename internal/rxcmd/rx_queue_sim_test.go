//go:build cgo && !nodpdk

package rxcmd

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// TestRxQueueWarnsWhileQueueInRSS: rx --pf PF --queue Q warns while RSS
// still sends the kernel's flows to Q (the 82599's table is i % 16), and
// not once up --mode queue --queue Q took Q out of the table. The runs
// stop at a bad --lcores, after the device was resolved and before EAL.
func TestRxQueueWarnsWhileQueueInRSS(t *testing.T) {
	root, state := simHost(t)
	warnings := func() []string {
		t.Helper()
		code, out, errs := vfb("-o", "json", "--host-root", root, "--state-dir", state, "--pf", "eth3", "--queue", "3", "--lcores", "x")
		var r struct {
			Warnings []string `json:"warnings"`
			Error    struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || code != 2 || !strings.Contains(r.Error.Message, "--lcores") {
			t.Fatalf("code %d, %v: %s %s", code, err, out, errs)
		}
		return r.Warnings
	}
	w := strings.Join(warnings(), "\n")
	if !strings.Contains(w, "queue 3 of eth3 is in its RSS indirection table (8 of 128 entries)") || !strings.Contains(w, "vfbypass up eth3 --mode queue --queue 3") {
		t.Fatalf("no warning about queue 3 in RSS: %q", w)
	}
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	_, err = setup.Up(context.Background(), h, setup.Request{PF: "eth3", Mode: setup.ModeQueue, Queue: 3}, setup.Options{StateDir: state})
	h.Close()
	if err != nil {
		t.Fatalf("up --mode queue: %v", err)
	}
	if w := warnings(); len(w) != 0 {
		t.Fatalf("warnings after up --mode queue --queue 3: %q", w)
	}
}
