package setup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// TestUpResumesAVersion3PendingRule: a format 3 journal that a run killed
// between its rule batch's write-ahead save and its confirmation left
// (the record flagged pending, with or without the insert done) is read
// as a pending record; the next up settles it, leaves the config's rule
// installed once, and writes the journal back as format 4 with the record
// applied; down then restores the host byte for byte.
func TestUpResumesAVersion3PendingRule(t *testing.T) {
	t.Parallel()
	for _, inserted := range []bool{true, false} {
		name := map[bool]string{true: "inserted", false: "not-inserted"}[inserted]
		t.Run(name, func(t *testing.T) {
			l := newLab(t, hostsim.Options{})
			before := l.snap()
			r := base()
			r.Rules = []setup.RuleRequest{rule(0, "flow-type udp4 dst-port 4789")}
			l.up(r, l.opts())
			p := filepath.Join(l.state, "eth3.json")
			var loc uint32
			editJournal(t, p, func(j map[string]any) {
				j["version"] = 3
				rules := j["rules"].([]any)
				if len(rules) != 1 {
					t.Fatalf("journal rules: %v; want the config's one", rules)
				}
				rec := rules[0].(map[string]any)
				delete(rec, "state")
				rec["pending"] = true
				loc = uint32(rec["location"].(float64))
			})
			if !inserted {
				dev, err := l.h.Rules("eth3")
				if err != nil {
					t.Fatal(err)
				}
				err = dev.Delete(loc)
				dev.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			res := l.up(r, l.opts())
			if len(res.Repaired) != 1 || !strings.Contains(res.Repaired[0], "settled 1 ntuple rule record") {
				t.Errorf("up's repairs: %q; want the pending record settled", res.Repaired)
			}
			j, err := journal.Store{Dir: l.state}.Load("eth3")
			if err != nil || j == nil || len(j.Rules) != 1 || j.Rules[0].State != journal.Applied {
				t.Fatalf("journal after up: %+v %v; want the rule's record applied", j, err)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), `"version": 4`) || strings.Contains(string(b), `"pending"`) {
				t.Fatalf("journal after up:\n%s\nwant format 4 with nothing pending", b)
			}
			dev, err := l.h.Rules("eth3")
			if err != nil {
				t.Fatal(err)
			}
			locs, _, err := dev.RuleLocations()
			dev.Close()
			if err != nil || len(locs) != 1 || locs[0] != j.Rules[0].Location {
				t.Fatalf("table after up: %v %v; want only the journaled rule at %d", locs, err, j.Rules[0].Location)
			}
			l.down()
			if got := l.snap(); got != before {
				t.Fatalf("down left the host changed: %s", diff(before, got))
			}
		})
	}
}
