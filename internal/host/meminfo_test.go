package host_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
)

func TestReadHugepages(t *testing.T) {
	root := t.TempDir()
	f := host.NewRootFS(root)
	if _, err := host.ReadHugepages(f); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no /proc/meminfo: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]host.Hugepages{
		"MemTotal:       24576000 kB\nHugePages_Total:     512\nHugePages_Free:      500\nHugePages_Rsvd:        0\nHugepagesize:       2048 kB\n": {Total: 512, Free: 500, Size: "2048 kB"},
		"MemTotal:       24576000 kB\n":            {},
		"HugePages_Total:    x\nHugePages_Free: 3": {Free: 3},
	} {
		if err := os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := host.ReadHugepages(f)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", text, got, err, want)
		}
	}
}
