package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
)

// TestManPagesHaveExitStatusFilesEnvironment: every generated page has the
// three sections, EXIT STATUS with every code of the contract.
func TestManPagesHaveExitStatusFilesEnvironment(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := vfb("gen-man", dir); code != 0 {
		t.Fatalf("gen-man: %d %s", code, stderr)
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil || len(pages) < 10 {
		t.Fatalf("pages: %v %v", pages, err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		page := string(b)
		for _, want := range []string{".SH EXIT STATUS\n", "\\fB4\\fP\nstatus --check", ".SH FILES\n", "/run/vfbypass/PF.json", ".SH ENVIRONMENT\n"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", filepath.Base(p), want)
			}
		}
		if i, j := strings.Index(page, ".SH EXIT STATUS"), strings.Index(page, ".SH SEE ALSO"); j >= 0 && i > j {
			t.Errorf("%s: EXIT STATUS after SEE ALSO", filepath.Base(p))
		}
	}
}

// TestCompletionOnlyUnixShells: bash, zsh and fish; no PowerShell.
func TestCompletionOnlyUnixShells(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if code, out, _ := vfb("completion", sh); code != 0 || out == "" {
			t.Errorf("completion %s: exit %d", sh, code)
		}
	}
	if code, _, _ := vfb("completion", "powershell"); code != 2 {
		t.Errorf("completion powershell: exit %d, want 2", code)
	}
	if _, out, _ := vfb("completion", "--help"); strings.Contains(out, "powershell") {
		t.Errorf("completion --help offers powershell:\n%s", out)
	}
}

// TestOperatorMessages: the messages an operator meets first say what is
// wrong in their words: a mistyped PF (did you mean), the two halves of a
// rule's target, and one hugepage command in doctor and rx.
func TestOperatorMessages(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	for _, tc := range []struct {
		args     []string
		code     int
		msg, fix string
	}{
		{[]string{"down", "eht3"}, 2, "PF eht3: no such network interface and no journal", "did you mean eth3?"},
		{[]string{"status", "eht3"}, 2, "no such network interface", "did you mean eth3?"},
		{[]string{"steer", "list", "etj3"}, 2, "no such network interface", "did you mean eth3?"},
		{[]string{"down", "eht3", "--missing-ok"}, 0, "warning: PF eht3: no such network interface", "did you mean eth3?"},
		{[]string{"down", "wlan0"}, 2, "PF wlan0: no such network interface", "check the name with 'ip link'"},
		{[]string{"steer", "add", "eth3", "--vf", "0", "flow-type", "tcp4", "dst-port", "80", "queue", "7"}, 2, "the rule says queue 7 and --vf 0 is a flag", "--vf 0 --queue 7, or the whole target in the rule: vf 0 queue 7"},
	} {
		code, _, stderr := vfb(append(append([]string{}, g...), tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) || !strings.Contains(stderr, tc.fix) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit %d, %q and %q", tc.args, code, stderr, tc.code, tc.msg, tc.fix)
		}
	}
	if strings.Contains(func() string { _, _, e := vfb(append(append([]string{}, g...), "down", "wlan0")...); return e }(), "did you mean") {
		t.Errorf("down wlan0 suggests a name two letters away from nothing")
	}
	_, out, _ := vfb(append(append([]string{}, g...), "doctor", "eth3")...)
	if !strings.Contains(out, host.ReserveHugepages) {
		t.Errorf("doctor's hugepage fix is not host.ReserveHugepages (rx's):\n%s", out)
	}
}
