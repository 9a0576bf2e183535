package vfio

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
)

func TestIOMMUPresent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		make    func(root string) error
		want    bool
		wantErr string
	}{
		{"no directory: no IOMMU", func(string) error { return nil }, false, ""},
		{"empty directory: no IOMMU", func(r string) error { return os.MkdirAll(filepath.Join(r, "sys/kernel/iommu_groups"), 0o755) }, false, ""},
		{"a group", func(r string) error { return os.MkdirAll(filepath.Join(r, "sys/kernel/iommu_groups/7/devices"), 0o755) }, true, ""},
		{"unreadable: an error naming the path, not 'no IOMMU'", func(r string) error {
			if err := os.MkdirAll(filepath.Join(r, "sys/kernel"), 0o755); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(r, "sys/kernel/iommu_groups"), nil, 0o644)
		}, false, "sys/kernel/iommu_groups: not a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			if err := c.make(root); err != nil {
				t.Fatal(err)
			}
			got, err := IOMMUPresent(host.NewRootFS(root))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("IOMMUPresent = %v, %v; want an error with %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("IOMMUPresent = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
