package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// claimsFile is the rule claims file of the simulated 82599 under root.
func claimsFile(t *testing.T, root string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(root, "run/lock/vfbypass/*.lock"))
	if err != nil || len(m) != 1 {
		t.Fatalf("lock of eth3: %v %v", m, err)
	}
	return strings.TrimSuffix(m[0], ".lock") + ".claims"
}

// forgeRecords writes, in state directory dir, a journal of eth3 whose
// rule records are copies of recs (pending, each replacing itself when
// pending is set): a record vfbypass never wrote there.
func forgeRecords(t *testing.T, dir string, recs []map[string]any, pending bool) {
	t.Helper()
	var rules []map[string]any
	for _, r := range recs {
		f := map[string]any{}
		for k, v := range r {
			f[k] = v
		}
		if pending {
			old := map[string]any{}
			for k, v := range r {
				old[k] = v
			}
			f["pending"], f["replaces"] = true, old
		}
		rules = append(rules, f)
	}
	b, err := json.Marshal(map[string]any{"version": 3, "pf": "eth3", "created": "2026-01-01T00:00:00Z", "steps": []any{}, "rules": rules})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "eth3.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A journal in one state directory cannot make vfbypass delete a rule
// another state directory installed: a forged record (confirmed, or
// pending and replacing itself) naming it makes down, steer clear and
// up --recreate leave it alone and say so; the state directory that
// installed it takes it down.
func TestForgedRecordOfAnotherStateDirsRule(t *testing.T) {
	t.Parallel()
	root, a := simHost(t)
	g := func(state string, args ...string) []string {
		return append([]string{"--host-root", root, "--state-dir", state}, args...)
	}
	if code, _, e := vfb(g(a, "up", "eth3", "--vfs", "2")...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	if code, _, e := vfb(g(a, "steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80")...); code != 0 {
		t.Fatalf("steer add: %d %s", code, e)
	}
	b, err := os.ReadFile(filepath.Join(a, "eth3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ja struct {
		Rules []map[string]any `json:"rules"`
	}
	if err := json.Unmarshal(b, &ja); err != nil || len(ja.Rules) != 1 {
		t.Fatalf("journal of %s: %v %s", a, err, b)
	}
	installed := func() bool {
		t.Helper()
		code, out, e := vfb(g(a, "-o", "json", "steer", "list", "eth3")...)
		if code != 0 {
			t.Fatalf("steer list: %d %s", code, e)
		}
		return strings.Contains(out, `"journaled": true`)
	}
	for _, c := range []struct {
		name    string
		pending bool
		args    []string
	}{
		{"down", false, []string{"down", "eth3"}},
		{"down-pending", true, []string{"down", "eth3"}},
		{"steer-clear", false, []string{"steer", "clear", "eth3"}},
		{"steer-clear-pending", true, []string{"steer", "clear", "eth3"}},
	} {
		b := filepath.Join(t.TempDir(), "forged")
		forgeRecords(t, b, ja.Rules, c.pending)
		code, out, e := vfb(g(b, c.args...)...)
		if code != 0 && code != 2 {
			t.Errorf("%s: exit %d %s %s", c.name, code, out, e)
		}
		if !installed() {
			t.Fatalf("%s with a forged record deleted the rule state directory %s installed: %s %s", c.name, a, out, e)
		}
		if c.name == "down" && !strings.Contains(out+e, "claimed by state directory") {
			t.Errorf("down does not say the rule is another state directory's: %s %s", out, e)
		}
	}
	// The state directory that installed it takes it down, and its claims
	// go with it.
	if code, out, e := vfb(g(a, "down", "eth3")...); code != 0 {
		t.Fatalf("down: %d %s %s", code, out, e)
	}
	if installed() {
		t.Fatal("down left the rule it installed")
	}
	if _, err := os.Stat(claimsFile(t, root)); !os.IsNotExist(err) {
		t.Errorf("down left the claims file: %v", err)
	}
}

// A kill can leave a claim without its rule (between the claim and the
// insert) or, where the driver chose the location, a rule without its
// claim; down converges from both.
func TestClaimsConvergeAfterKills(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"claim-without-rule", "rule-without-claim"} {
		root, state := simHost(t)
		g := func(args ...string) []string {
			return append([]string{"--host-root", root, "--state-dir", state}, args...)
		}
		if code, _, e := vfb(g("up", "eth3", "--vfs", "2")...); code != 0 {
			t.Fatalf("up: %d %s", code, e)
		}
		if code, _, e := vfb(g("steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80")...); code != 0 {
			t.Fatalf("steer add: %d %s", code, e)
		}
		cf := claimsFile(t, root)
		switch c {
		case "claim-without-rule":
			b, err := os.ReadFile(cf)
			if err != nil {
				t.Fatal(err)
			}
			var f map[string]any
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			f["claims"] = append(f["claims"].([]any), map[string]any{"location": 7, "state_dir": filepath.Clean(state)})
			b, err = json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cf, b, 0o600); err != nil {
				t.Fatal(err)
			}
		case "rule-without-claim":
			if err := os.Remove(cf); err != nil {
				t.Fatal(err)
			}
		}
		if code, out, e := vfb(g("down", "eth3")...); code != 0 {
			t.Fatalf("%s: down: %d %s %s", c, code, out, e)
		}
		code, out, e := vfb(g("-o", "json", "steer", "list", "eth3")...)
		if code != 0 || strings.Contains(out, `"location"`) {
			t.Errorf("%s: after down the table still has rules: %d %s %s", c, code, out, e)
		}
		if _, err := os.Stat(cf); !os.IsNotExist(err) {
			t.Errorf("%s: down left the claims file: %v", c, err)
		}
	}
}
