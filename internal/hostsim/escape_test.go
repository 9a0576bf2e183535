package hostsim_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// An absolute link inside a simulated tree (an attribute, or a directory on
// the way to one) never leads a write out of the tree: the simulator
// resolves links within its root, as RESOLVE_IN_ROOT does.
func TestAbsoluteLinksDoNotLeaveTheTree(t *testing.T) {
	t.Parallel()
	const pfDir = "sys/devices/pci0000:00/0000:00:03.0/0000:04:00.1"
	for _, c := range []struct{ name, link, attr, value string }{
		{"sriov_numvfs", pfDir + "/sriov_numvfs", "/sys/bus/pci/devices/0000:04:00.1/sriov_numvfs", "2"},
		{"driver_override", pfDir + "/driver_override", "/sys/bus/pci/devices/0000:04:00.1/driver_override", "vfio-pci"},
		{"module parameters", "sys/module/vfio/parameters", "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", "Y"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "h")
			if err := hostsim.Init(root, hostsim.Options{}); err != nil {
				t.Fatal(err)
			}
			outside := t.TempDir()
			target := filepath.Join(outside, filepath.Base(c.link))
			for _, f := range []string{target, filepath.Join(target, "enable_unsafe_noiommu_mode")} {
				if f == target && c.name == "module parameters" {
					if err := os.Mkdir(f, 0o755); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := os.WriteFile(f, []byte("outside\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if c.name != "module parameters" {
					break
				}
			}
			before, err := hostsim.Snapshot(outside)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(filepath.Join(root, c.link)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, filepath.Join(root, c.link)); err != nil {
				t.Fatal(err)
			}
			h, err := hostsim.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			err = h.FS.WriteAttr(c.attr, c.value)
			if after, serr := hostsim.Snapshot(outside); serr != nil || after != before {
				t.Fatalf("WriteAttr(%s) through a link to %s (%v) changed the outside tree:\n%s", c.attr, target, err, after)
			}
		})
	}
}

// A process killed between replaceFile's write and rename leaves
// state.json.tmp (or a rule table's .tmp); the next Open removes it.
func TestOpenRemovesLeftTemporaryFiles(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "h")
	if err := hostsim.Init(root, hostsim.Options{}); err != nil {
		t.Fatal(err)
	}
	before, err := hostsim.Snapshot(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"state.json.tmp", "fdir-eth3.tbl.tmp"} {
		if err := os.WriteFile(filepath.Join(root, hostsim.MarkerDir, n), []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hostsim.Open(root); err != nil {
		t.Fatal(err)
	}
	if after, err := hostsim.Snapshot(root); err != nil || after != before {
		t.Fatalf("Open left the temporary files (%v):\n%s", err, after)
	}
}
