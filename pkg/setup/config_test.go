package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/pkg/outcome"
)

func TestLoadConfig(t *testing.T) {
	for _, c := range []struct {
		name, text, wantErr string
		wantVFs             int
	}{
		{"valid", "pf: eth3\nvfs: 2\nrules:\n  - flow: flow-type tcp4 dst-port 80\n    vf: 0\n", "", 2},
		{"empty", "", "is empty", 0},
		{"only a comment", "# nothing yet\n", "is empty", 0},
		{"unknown key", "pf: eth3\nvfs: 2\nbogus: 1\n", "field bogus not found", 0},
		{"wrong type", "pf: eth3\nvfs: two\n", "cannot unmarshal", 0},
		{"not YAML", ": : :\n", "did not find expected key", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := LoadConfig(p)
			if c.wantErr == "" {
				if err != nil || r.NumVFs != c.wantVFs || r.PF != "eth3" || len(r.Rules) != 1 {
					t.Fatalf("LoadConfig = %+v, %v", r, err)
				}
				return
			}
			if err == nil || outcome.Code(err) != outcome.BadInput || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), p) {
				t.Fatalf("LoadConfig error %v (exit %d), want exit 2 naming %s and %q", err, outcome.Code(err), p, c.wantErr)
			}
		})
	}
}
