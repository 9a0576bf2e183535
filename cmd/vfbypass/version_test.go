package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestVersionOfBothBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := t.TempDir()
	ld := "-X github.com/vfbypass/vfbypass/internal/buildinfo.version=1.2.3-4-gabc -X github.com/vfbypass/vfbypass/internal/buildinfo.commit=0123456789abcdef"
	build := exec.Command("go", "build", "-ldflags", ld, "-o", filepath.Join(dir, "vfbypass"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	type info struct {
		Program, Version, Commit, Go, DPDK string
	}
	var r struct {
		info
		Warnings []string `json:"warnings"`
		RX       *info    `json:"rx"`
	}
	version := func() {
		t.Helper()
		cmd := exec.Command(filepath.Join(dir, "vfbypass"), "version", "-o", "json")
		cmd.Env = append(os.Environ(), "PATH="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("vfbypass version: %v", err)
		}
		r.RX = nil
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if r.Program != "vfbypass" || r.Version != "1.2.3-4-gabc" || r.Commit != "0123456789abcdef" || r.Go != runtime.Version() || r.DPDK != "" || len(r.Warnings) != 0 {
			t.Fatalf("vfbypass version: %s", out)
		}
	}
	version()
	if r.RX != nil {
		t.Fatalf("rx %+v without vfbypass-rx", r.RX)
	}
	if err := exec.Command("pkg-config", "--exists", "libdpdk").Run(); err != nil {
		t.Skipf("no libdpdk to build vfbypass-rx with (apt-get install libdpdk-dev pkg-config): %v", err)
	}
	if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", filepath.Join(dir, rxBinary), "../vfbypass-rx").CombinedOutput(); err != nil {
		t.Fatalf("build vfbypass-rx: %v\n%s", err, out)
	}
	version()
	if r.RX == nil || r.RX.Program != "vfbypass-rx" || r.RX.Version != "1.2.3-4-gabc" || !strings.HasPrefix(r.RX.DPDK, "DPDK 22.11") {
		t.Fatalf("rx: %+v", r.RX)
	}
	out, err := exec.Command(filepath.Join(dir, "vfbypass"), "version").Output()
	want := "vfbypass 1.2.3-4-gabc (commit 0123456789ab, " + runtime.Version() + ")\nvfbypass-rx 1.2.3-4-gabc (commit 0123456789ab, " + runtime.Version() + ", " + r.RX.DPDK + ")\n"
	if err != nil || string(out) != want {
		t.Fatalf("text: %v\n%q\nwant\n%q", err, out, want)
	}
}
