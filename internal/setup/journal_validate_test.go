package setup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/inspect"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// undoOf returns the undo record of the journal step with id.
func undoOf(t *testing.T, j map[string]any, id string) map[string]any {
	t.Helper()
	for _, s := range j["steps"].([]any) {
		s := s.(map[string]any)
		if s["id"] == id {
			return s["undo"].(map[string]any)
		}
	}
	t.Fatalf("journal has no step %s", id)
	return nil
}

// stepOf returns the journal entry with id.
func stepOf(t *testing.T, j map[string]any, id string) map[string]any {
	t.Helper()
	for _, s := range j["steps"].([]any) {
		if s := s.(map[string]any); s["id"] == id {
			return s
		}
	}
	t.Fatalf("journal has no step %s", id)
	return nil
}

func ruleOf(t *testing.T, j map[string]any) map[string]any {
	t.Helper()
	rs, _ := j["rules"].([]any)
	if len(rs) == 0 {
		t.Fatal("journal has no rule")
	}
	return rs[0].(map[string]any)
}

// A journal written by a real up, then edited one field at a time to a value
// no vfbypass writes, is refused by down as damaged (exit 2, naming the
// journal, the step and the field, fix pointing at status) before anything
// is undone: the host and the journal are byte-identical afterwards.
func TestDownRefusesOutOfRangeJournalValues(t *testing.T) {
	type edit func(t *testing.T, j map[string]any)
	set := func(id, key string, v any) edit {
		return func(t *testing.T, j map[string]any) { undoOf(t, j, id)[key] = v }
	}
	setIn := func(id, sub, key string, v any) edit {
		return func(t *testing.T, j map[string]any) { undoOf(t, j, id)[sub].(map[string]any)[key] = v }
	}
	setRule := func(key string, v any) edit {
		return func(t *testing.T, j map[string]any) { ruleOf(t, j)[key] = v }
	}
	for _, c := range []struct {
		name  string
		edit  edit
		gone  bool     // the PF's interface is removed too
		wants []string // in the error, besides the journal path
	}{
		{"numvfs want negative", set("numvfs", "want", -1), false, []string{"step numvfs", "field want", "-1"}},
		{"numvfs want above totalvfs", set("numvfs", "want", 9), false, []string{"step numvfs", "field want", "9", "sriov_totalvfs is 8"}},
		{"numvfs old negative", set("numvfs", "old", -3), false, []string{"step numvfs", "field old", "-3"}},
		{"numvfs old above totalvfs", set("numvfs", "old", 300), false, []string{"step numvfs", "field old", "300"}},
		{"autoprobe not 0/1", set("numvfs", "old_autoprobe", 2), false, []string{"step numvfs", "old_autoprobe"}},
		{"probe-vfs index negative", func(t *testing.T, j map[string]any) { undoOf(t, j, "probe-vfs")["vfs"] = []any{-1} }, false, []string{"step probe-vfs", "field vfs[0]", "-1"}},
		{"probe-vfs index = totalvfs", func(t *testing.T, j map[string]any) { undoOf(t, j, "probe-vfs")["vfs"] = []any{1, 8} }, false, []string{"step probe-vfs", "field vfs[1]", "8"}},
		{"vf-config index negative", set("vf0-config", "index", -1), false, []string{"step vf0-config", "field index", "-1"}},
		{"vf-config index = totalvfs", set("vf0-config", "index", 8), false, []string{"step vf0-config", "field index", "8"}},
		{"vf-config old mac 8 bytes", setIn("vf0-config", "old", "mac", "00:00:00:00:00:00:00:00"), false, []string{"step vf0-config", "field old.mac", "00:00:00:00:00:00:00:00"}},
		{"vf-config old mac garbage", setIn("vf0-config", "old", "mac", "zz"), false, []string{"step vf0-config", "field old.mac", `"zz"`}},
		{"vf-config want mac 20 bytes", setIn("vf0-config", "want", "mac", "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01"), false, []string{"step vf0-config", "field want.mac"}},
		{"vf-config old vlan 4096", setIn("vf0-config", "old", "vlan", 4096), false, []string{"step vf0-config", "field old.vlan", "4096"}},
		{"vf-config old vlan negative", setIn("vf0-config", "old", "vlan", -1), false, []string{"step vf0-config", "field old.vlan", "-1"}},
		{"vf-config want vlan 5000", setIn("vf0-config", "want", "vlan", 5000), false, []string{"step vf0-config", "field want.vlan", "5000"}},
		{"vf-config old qos 8", setIn("vf0-config", "old", "qos", 8), false, []string{"step vf0-config", "field old.qos", "8"}},
		{"module name path", set("module-vfio-pci", "name", "../x"), false, []string{"step module-vfio-pci", "field name", `"../x"`}},
		{"module name slash", set("module-vfio-pci", "name", "vfio/pci"), false, []string{"step module-vfio-pci", "field name", `"vfio/pci"`}},
		{"module name empty", set("module-vfio-pci", "name", ""), false, []string{"step module-vfio-pci", "field name", `""`}},
		{"noiommu old not Y/N", set("noiommu", "old", "../../x"), false, []string{"step noiommu", "field old", `"../../x"`}},
		{"bind index negative", set("vf0-bind", "index", -2), false, []string{"step vf0-bind", "field index", "-2"}},
		{"bind index = totalvfs", set("vf0-bind", "index", 8), false, []string{"step vf0-bind", "field index", "8"}},
		{"bind driver path", set("vf0-bind", "driver", "../x"), false, []string{"step vf0-bind", "field driver", `"../x"`}},
		{"bind driver empty", set("vf0-bind", "driver", ""), false, []string{"step vf0-bind", "field driver", `""`}},
		{"bind old address short", setIn("vf0-bind", "old", "address", "04:10.1"), false, []string{"step vf0-bind", "field old.address", `"04:10.1"`}},
		{"bind old address path", setIn("vf0-bind", "old", "address", "0000:04:10.1/../../x"), false, []string{"step vf0-bind", "field old.address", "0000:04:10.1/../../x"}},
		{"bind old address device 0x20", setIn("vf0-bind", "old", "address", "0000:04:20.1"), false, []string{"step vf0-bind", "field old.address", "0000:04:20.1"}},
		{"bind old driver slash", setIn("vf0-bind", "old", "driver", "a/b"), false, []string{"step vf0-bind", "field old.driver", `"a/b"`}},
		{"bind old override path", setIn("vf0-bind", "old", "override", ".."), false, []string{"step vf0-bind", "field old.override", `".."`}},
		{"rule location 2^31", setRule("location", 1<<31), false, []string{"rule 0", "field location", "2147483648"}},
		{"rule spec not hex", setRule("spec", "zz"), false, []string{"rule 0", "field spec", "not hex"}},
		{"rule spec short", func(t *testing.T, j map[string]any) { r := ruleOf(t, j); r["spec"] = r["spec"].(string)[:100] }, false, []string{"rule 0", "field spec", "50 bytes, want 168"}},
		{"rule spec long", func(t *testing.T, j map[string]any) { r := ruleOf(t, j); r["spec"] = r["spec"].(string) + "00" }, false, []string{"rule 0", "field spec", "169 bytes, want 168"}},
		{"step id not its kind's", func(t *testing.T, j map[string]any) { stepOf(t, j, "module-vfio-pci")["id"] = "vf1-config" }, false, []string{"step vf1-config", "kind module", "step module-vfio-pci"}},
		{"step recorded twice", func(t *testing.T, j map[string]any) { j["steps"] = append(j["steps"].([]any), stepOf(t, j, "noiommu")) }, false, []string{"step noiommu is recorded twice"}},
		{"original missing", func(t *testing.T, j map[string]any) { delete(j, "original") }, false, []string{"original record is missing"}},
		{"original not an object", func(t *testing.T, j map[string]any) { j["original"] = "eth3" }, false, []string{"original record"}},
		{"original unknown field", func(t *testing.T, j map[string]any) { j["original"].(map[string]any)["driver_override"] = "x" }, false, []string{"original record", "driver_override"}},
		{"original num_vfs above totalvfs", func(t *testing.T, j map[string]any) { j["original"].(map[string]any)["num_vfs"] = 9 }, false, []string{"original record", "field num_vfs", "9"}},
		{"original driver path", func(t *testing.T, j map[string]any) { j["original"].(map[string]any)["driver"] = "../x" }, false, []string{"original record", "field driver", "../x"}},
		{"rule words another rule", setRule("words", "flow-type udp4 dst-port 53 action 1"), false, []string{"rule 0", "field words", "are not the rule its spec records"}},
		{"rule spec of another rule", func(t *testing.T, j map[string]any) {
			r := ruleOf(t, j)
			s := r["spec"].(string)
			r["spec"] = s[:8] + "0a" + s[10:] // the first byte of src-ip: 10.0.0.0 with no mask bit
		}, false, []string{"rule 0", "field words", "src-ip 10.0.0.0"}},
		{"PF gone, VF index 256", set("vf0-bind", "index", 256), true, []string{"step vf0-bind", "field index", "256", "0..255", "sriov_totalvfs cannot be read"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l := newLab(t, hostsim.Options{TotalVFs: 8, NoVFIO: true, NoIOMMU: true})
			r := req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01", VLAN: ip(100), Trust: bp(true)})
			r.NoIOMMU = true
			r.Rules = []setup.RuleRequest{{VF: ip(0), Flow: "flow-type tcp4 dst-port 80"}}
			if _, err := setup.Up(context.Background(), l.h, r, l.opts()); err != nil {
				t.Fatalf("up: %v", err)
			}
			p := filepath.Join(l.state, "eth3.json")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			var j map[string]any
			if err := json.Unmarshal(b, &j); err != nil {
				t.Fatal(err)
			}
			c.edit(t, j)
			edited, err := json.MarshalIndent(j, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, edited, 0o600); err != nil {
				t.Fatal(err)
			}
			if c.gone {
				if err := os.Remove(filepath.Join(l.root, "sys/class/net/eth3")); err != nil {
					t.Fatal(err)
				}
			}
			before := l.snap()
			_, err = setup.Down(context.Background(), l.h, "eth3", l.opts())
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(msg, "damaged journal") || !strings.Contains(msg, p) {
				t.Fatalf("down: %v (outcome %T); want exit 2 refusing the damaged journal %s", err, outcome.Of(err), p)
			}
			for _, w := range c.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("down: %v; want it to say %q", err, w)
				}
			}
			if fix := outcome.FixOf(err); !strings.Contains(fix, "vfbypass status eth3") {
				t.Errorf("fix %q does not point at 'vfbypass status eth3'", fix)
			}
			if after := l.snap(); after != before {
				t.Errorf("down with a damaged journal changed the host:\n%s", diff(before, after))
			}
			if now, _ := os.ReadFile(p); !bytes.Equal(now, edited) {
				t.Error("down with a damaged journal changed the journal")
			}
			st, err := inspect.Status(l.h, "eth3", l.state)
			if err != nil || st.PFs[0].Journal == nil || st.PFs[0].Journal.Damaged == "" {
				t.Errorf("status: %v; want the journal shown as damaged", err)
			}
		})
	}
}

// The same journal, unedited, passes the checks: down undoes everything,
// including on a PF whose sriov_totalvfs is exactly the VF count.
func TestDownAcceptsAJournalAtTheBounds(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{TotalVFs: 2, NoVFIO: true, NoIOMMU: true})
	before := l.snap()
	r := req(2, setup.VFRequest{Index: 1, MAC: "02:00:00:00:00:01", VLAN: ip(4095), Trust: bp(true)})
	r.NoIOMMU = true
	r.Rules = []setup.RuleRequest{{VF: ip(1), Flow: "flow-type tcp4 dst-port 80"}}
	l.up(r, l.opts())
	l.down()
	if after := l.snap(); after != before {
		t.Fatalf("host after up+down:\n%s", diff(before, after))
	}
}

// up reads the journal as down does: an entry whose id is not its kind's
// (vf0-config holding a module record, which made up panic when it kept
// that record's values), or a damaged original record (which up replaced
// with the PF as it is now), is refused with exit 2 before anything is
// touched.
func TestUpRefusesADamagedJournal(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(t *testing.T, j map[string]any)
		want string
	}{
		{"vf0-config of kind module", func(t *testing.T, j map[string]any) {
			s := stepOf(t, j, "vf0-config")
			s["kind"], s["undo"] = "module", map[string]any{"name": "vfio-pci", "was_loaded": true}
		}, "its record (kind module) is that of step module-vfio-pci"},
		{"original num_vfs negative", func(t *testing.T, j map[string]any) { j["original"].(map[string]any)["num_vfs"] = -1 }, "field num_vfs"},
		{"original null", func(t *testing.T, j map[string]any) { j["original"] = nil }, "original record is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, r, p, edited := upThenEdit(t, c.edit)
			before := l.snap()
			r.VFs[0].MAC = "02:00:00:00:00:02"
			_, err := setup.Up(context.Background(), l.h, r, l.opts())
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("up: %v (outcome %T); want exit 2 naming %s and %q", err, outcome.Of(err), p, c.want)
			}
			if after := l.snap(); after != before {
				t.Errorf("up with a damaged journal changed the host:\n%s", diff(before, after))
			}
			if now, _ := os.ReadFile(p); !bytes.Equal(now, edited) {
				t.Error("up with a damaged journal changed the journal")
			}
		})
	}
}
