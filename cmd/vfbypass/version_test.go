package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

func TestVersionOfBothBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	bin := binaryIn(t, false) // built with testLdflags
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
		cmd := exec.Command(bin, "version", "-o", "json")
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
	bin = binaryIn(t, true)
	version()
	if r.RX == nil || r.RX.Program != "vfbypass-rx" || r.RX.Version != "1.2.3-4-gabc" || !strings.HasPrefix(r.RX.DPDK, "DPDK 22.11") {
		t.Fatalf("rx: %+v", r.RX)
	}
	out, err := exec.Command(bin, "version").Output()
	want := "vfbypass 1.2.3-4-gabc (commit 0123456789ab, " + runtime.Version() + ")\nvfbypass-rx 1.2.3-4-gabc (commit 0123456789ab, " + runtime.Version() + ", " + r.RX.DPDK + ")\n"
	if err != nil || string(out) != want {
		t.Fatalf("text: %v\n%q\nwant\n%q", err, out, want)
	}
}
