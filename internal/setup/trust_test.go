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
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// editJournal applies edit to the PF's journal as JSON and returns the
// bytes written.
func editJournal(t *testing.T, p string, edit func(j map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b, &j); err != nil {
		t.Fatal(err)
	}
	edit(j)
	out, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// A journal is input, not authority: a record naming a device that is not
// the PF's (the management NIC, the PF itself), a driver or module that is
// not vfbypass's, or vfio's unsafe mode switched on, makes down refuse
// (exit 2, naming the record and the field) with the host and the journal
// byte-identical.
func TestDownRefusesAJournalNamingForeignDevices(t *testing.T) {
	t.Parallel()
	bindOld := func(key, v string) func(t *testing.T, j map[string]any) {
		return func(t *testing.T, j map[string]any) { undoOf(t, j, "vf0-bind")["old"].(map[string]any)[key] = v }
	}
	for _, c := range []struct {
		name  string
		edit  func(t *testing.T, j map[string]any)
		wants []string
	}{
		{"management NIC", bindOld("address", "0000:00:02.0"), []string{"step vf0-bind", "field old.address", "0000:00:02.0", "not VF 0 of eth3"}},
		{"the PF", bindOld("address", "0000:04:00.1"), []string{"step vf0-bind", "field old.address", "0000:04:00.1"}},
		{"another VF", bindOld("address", "0000:04:10.3"), []string{"step vf0-bind", "field old.address", "0000:04:10.3"}},
		{"foreign old driver", bindOld("driver", "virtio-pci"), []string{"step vf0-bind", "field old.driver", "virtio-pci"}},
		{"override to a NIC driver", bindOld("override", "virtio-pci"), []string{"step vf0-bind", "field old.override", "virtio-pci"}},
		{"bind driver not vfio-pci", func(t *testing.T, j map[string]any) { undoOf(t, j, "vf0-bind")["driver"] = "virtio-pci" }, []string{"step vf0-bind", "field driver", "virtio-pci"}},
		{"module not vfio", func(t *testing.T, j map[string]any) {
			undoOf(t, j, "module-vfio-pci")["name"] = "virtio_net"
			stepOf(t, j, "module-vfio-pci")["id"] = "module-virtio_net"
		}, []string{"step module-virtio_net", "field name", "virtio_net"}},
		{"noiommu turned on", func(t *testing.T, j map[string]any) { undoOf(t, j, "noiommu")["old"] = "Y" }, []string{"step noiommu", "field old", "unsafe no-IOMMU mode on"}},
		{"pf address", func(t *testing.T, j map[string]any) { j["pf_address"] = "0000:00:02.0" }, []string{"field pf_address", "0000:00:02.0", "0000:04:00.1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, _, p, edited := upThenEdit(t, c.edit)
			before := l.snap()
			_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(msg, "refusing to act on the journal "+p) {
				t.Fatalf("down: %v (outcome %T); want exit 2 refusing the journal %s", err, outcome.Of(err), p)
			}
			for _, w := range c.wants {
				if !strings.Contains(msg, w) {
					t.Errorf("down: %v; want it to say %q", err, w)
				}
			}
			if after := l.snap(); after != before {
				t.Errorf("down with a foreign record changed the host:\n%s", diff(before, after))
			}
			if now, err := os.ReadFile(p); err != nil || !bytes.Equal(now, edited) {
				t.Errorf("down with a foreign record changed the journal (%v)", err)
			}
		})
	}
}

// A bind record of a VF that no longer exists (the VFs were removed, as a
// kill during the numvfs step's undo leaves them) is already gone, not
// foreign: down finishes and the host is as before up.
func TestDownTakesAGoneVFForUndone(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{TotalVFs: 8})
	before := l.snap()
	l.up(req(2, setup.VFRequest{Index: 1, MAC: "02:00:00:00:00:01"}), l.opts())
	if err := l.h.FS.WriteAttr("/sys/bus/pci/devices/0000:04:00.1/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := setup.Down(context.Background(), l.h, "eth3", l.opts()); err != nil {
		t.Fatalf("down with the VFs gone: %v", err)
	}
	if after := l.snap(); after != before {
		t.Fatalf("host after up, VFs removed, down:\n%s", diff(before, after))
	}
}

// With the VFs gone, a bind record naming a device that still exists (the
// management NIC) is still foreign: down refuses it.
func TestDownRefusesAForeignDeviceWithTheVFsGone(t *testing.T) {
	t.Parallel()
	l := newLab(t, hostsim.Options{TotalVFs: 8})
	l.up(req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01"}), l.opts())
	if err := l.h.FS.WriteAttr("/sys/bus/pci/devices/0000:04:00.1/sriov_numvfs", "0"); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(l.state, "eth3.json")
	editJournal(t, p, func(j map[string]any) { undoOf(t, j, "vf0-bind")["old"].(map[string]any)["address"] = "0000:00:02.0" })
	before := l.snap()
	_, err := setup.Down(context.Background(), l.h, "eth3", l.opts())
	if !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "0000:00:02.0 is not a VF of eth3") {
		t.Fatalf("down: %v (outcome %T); want exit 2 naming 0000:00:02.0", err, outcome.Of(err))
	}
	if after := l.snap(); after != before {
		t.Fatalf("down changed the host:\n%s", diff(before, after))
	}
}

// upThenEdit is a lab after up of 2 VFs (VF 0 with a MAC, no IOMMU) whose
// journal edit changed: the request, the journal's path and its bytes
// after the edit.
func upThenEdit(t *testing.T, edit func(t *testing.T, j map[string]any)) (*lab, setup.Request, string, []byte) {
	t.Helper()
	l := newLab(t, hostsim.Options{TotalVFs: 8, NoVFIO: true, NoIOMMU: true})
	r := req(2, setup.VFRequest{Index: 0, MAC: "02:00:00:00:00:01"})
	r.NoIOMMU = true
	l.up(r, l.opts())
	p := filepath.Join(l.state, "eth3.json")
	return l, r, p, editJournal(t, p, func(j map[string]any) { edit(t, j) })
}
