package setup

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, text string
		wantErr    []string
	}{
		{"valid", "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    trust: on\n    vlan: 5\nrules:\n  - flow: flow-type tcp4 dst-port 80\n    vf: 0\n", nil},
		{"empty", "", []string{"is empty"}},
		{"only a comment", "# nothing yet\n", []string{"is empty"}},
		{"unknown key", "pf: eth3\nvfs: 2\nbogus: 1\n", []string{"line 3", "bogus", "unknown key"}},
		{"unknown nested key", "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n    vlam: 5\n", []string{"line 5", "vf[0].vlam", "unknown key"}},
		{"wrong type", "pf: eth3\nvfs: two\n", []string{"line 2", "vfs", `"two" is not a whole number`}},
		{"nested wrong type", "pf: eth3\nvfs: 2\nvf:\n  - index: 0\n  - index: 1\n    trust: maybe\n", []string{"line 6", "vf[1].trust", "not true or false"}},
		{"not a list", "pf: eth3\nvfs: 2\nvf: 0\n", []string{"line 3", "vf", "must be a list"}},
		{"repeated key", "pf: eth3\nvfs: 2\nvfs: 3\n", []string{"line 3", "given twice", "line 2"}},
		{"two documents", "pf: eth3\nvfs: 2\n---\npf: eth4\nvfs: 1\n", []string{"line 3", "second YAML document"}},
		{"not YAML", "pf: eth3\n  vfs: 2\n", []string{"line 2"}},
		{"VLAN out of range", "pf: eth3\nvfs: 2\nvf:\n  - index: 1\n  - index: 0\n    vlan: 99999\n", []string{"line 6", "vf[1].vlan", "vlan 99999 for VF 0 is out of range"}},
		{"rule target", "pf: eth3\nvfs: 2\nrules:\n  - flow: flow-type tcp4 dst-port 80\n  - flow: flow-type tcp4 dst-port 81\n    vf: 5\n", []string{"line 6", "rules[1].vf", "targets VF 5"}},
		{"no vfs", "pf: eth3\n", []string{"vfs: ", "at least one VF"}},
		{"noiommu without vfio", "pf: eth3\nvfs: 1\ndriver: none\nnoiommu: on\n", []string{"line 4", "noiommu with driver none"}},
		{"JSON", `{"pf": "eth3", "vfs": 2, "vf": [{"index": 0, "mac": "02:00:00:00:00:01"}], "rules": [{"flow": "flow-type tcp4 dst-port 80", "vf": 0}]}`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := LoadConfig(p, nil)
			if c.wantErr == nil {
				if err != nil || r.NumVFs != 2 || r.PF != "eth3" || len(r.Rules) != 1 || len(r.VFs) != 1 || r.Rules[0].VF == nil {
					t.Fatalf("LoadConfig = %+v, %v", r, err)
				}
				return
			}
			if err == nil || !outcome.Is[*outcome.BadInput](err) || outcome.FixOf(err) == "" || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadConfig error %v (outcome %T), want exit 2 naming %s, with a fix", err, outcome.Of(err), p)
			}
			for _, w := range append(c.wantErr, "") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			msg := strings.ReplaceAll(err.Error(), p, "FILE")
			if flag := regexp.MustCompile(`--[a-z]`).FindString(msg); flag != "" {
				t.Errorf("error %q speaks in flags (%q), not the config's keys", err, flag)
			}
			for _, goWord := range []string{"setup.", "strconv", "yaml:", "!!", "unmarshal"} {
				if strings.Contains(msg, goWord) {
					t.Errorf("error %q speaks Go (%q)", err, goWord)
				}
			}
		})
	}
}

// Check refuses without a host what no host can accept.
func TestRequestCheck(t *testing.T) {
	t.Parallel()
	vlan := 5000
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"noiommu without vfio", Request{PF: "eth3", NumVFs: 1, Driver: "none", NoIOMMU: true}, "--noiommu with --driver none"},
		{"bad PF name", Request{PF: "eth3%", NumVFs: 1, Driver: "vfio-pci"}, `"eth3%" is not valid`},
		{"no VFs", Request{PF: "eth3", Driver: "vfio-pci"}, "at least one VF"},
		{"VLAN", Request{PF: "eth3", NumVFs: 1, Driver: "vfio-pci", VFs: []VFRequest{{VLAN: &vlan}}}, "--vlan 5000"},
	} {
		err := c.req.Check()
		if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Check = %v, want exit 2 with %q", c.name, err, c.want)
		}
	}
	ok := Request{NumVFs: 2, Driver: "none"}
	if err := ok.Check(); err != nil {
		t.Errorf("Check(%+v) = %v", ok, err)
	}
}
