package vfio_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/vfio"
)

// Holders finds a real process holding a file open through the real /proc.
func TestHoldersFindsARealProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc here")
	}
	node := filepath.Join(t.TempDir(), "node")
	if err := os.WriteFile(node, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "exec sleep 30 < "+node)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	fs := host.NewRootFS("/")
	deadline := time.Now().Add(5 * time.Second)
	for {
		hs := vfio.Holders(fs, node)
		for _, h := range hs {
			if h.PID == cmd.Process.Pid && h.Comm == "sleep" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Holders(%s) = %v, want pid %d (sleep)", node, hs, cmd.Process.Pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHoldersOfAnUnopenedNodeIsEmpty(t *testing.T) {
	t.Parallel()
	if hs := vfio.Holders(host.NewRootFS("/"), "/dev/vfio/does-not-exist"); len(hs) != 0 {
		t.Fatalf("Holders = %v, want none", hs)
	}
}
