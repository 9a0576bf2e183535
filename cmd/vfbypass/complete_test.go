package main

import (
	"slices"
	"strings"
	"testing"
)

// complete runs cobra's completion request as the shell scripts do and
// returns the candidates (without descriptions).
func complete(t *testing.T, args ...string) []string {
	t.Helper()
	code, out, errs := vfb(append([]string{"__complete"}, args...)...)
	if code != 0 {
		t.Fatalf("__complete %q: exit %d, %s", args, code, errs)
	}
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, ":") {
			w, _, _ := strings.Cut(l, "\t")
			words = append(words, w)
		}
	}
	return words
}

func TestCompletion(t *testing.T) {
	root, _ := simHost(t)
	noSRIOV, _ := simHost(t, "--pf", "eth5", "--no-sriov")
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--host-root", root, "up", ""}, []string{"eth3"}},
		{[]string{"--host-root", root, "down", ""}, []string{"eth3"}},
		{[]string{"--host-root", root, "status", ""}, []string{"eth3"}},
		{[]string{"--host-root", root, "steer", "list", ""}, []string{"eth3"}},
		{[]string{"--host-root", noSRIOV, "up", ""}, nil},
		{[]string{"up", "eth3", "--driver", ""}, []string{"vfio-pci", "none"}},
		{[]string{"-o", ""}, []string{"text", "json"}},
		{[]string{"status", "-o", ""}, []string{"text", "json"}},
		{[]string{"--host-root", root, "steer", "add", "eth3", ""}, []string{"flow-type"}},
		{[]string{"steer", "add", "eth3", "--vf", "0", "flow-type", ""}, []string{"tcp4", "udp4", "sctp4", "ah4", "esp4", "ip4", "tcp6", "udp6", "sctp6", "ah6", "esp6", "ip6", "ether"}},
		{[]string{"steer", "add", "eth3", "flow-type", "udp4", "dst-port", ""}, nil},
	} {
		if got := complete(t, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.args, got, c.want)
		}
	}
	got := complete(t, "steer", "add", "eth3", "flow-type", "udp4", "dst-port", "4789", "")
	if !slices.Contains(got, "dst-ip") || slices.Contains(got, "dst-port") || !slices.Contains(got, "vf") {
		t.Errorf("after a field: %q", got)
	}
}
