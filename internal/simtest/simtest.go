// Package simtest is what tests share for running vfbypass against a
// simulated host: a host made and opened in the test's temporary
// directory, a state directory, byte-for-byte snapshots, the command
// line run in-process, `up` done directly, and a metrics scrape.
//
// A test that owns what these return (they all live under t.TempDir)
// can call t.Parallel. The package is for tests only; nothing else may
// import it.
package simtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// Root makes a simulated host with options o in a fresh temporary
// directory and returns its root.
func Root(t testing.TB, o hostsim.Options) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "host")
	if err := hostsim.Init(root, o); err != nil {
		t.Fatalf("sim init: %v", err)
	}
	return root
}

// Open opens the simulated host at root; it is closed when the test ends.
func Open(t testing.TB, root string) *host.Host {
	t.Helper()
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatalf("open the simulated host: %v", err)
	}
	t.Cleanup(func() {
		if h.Close != nil {
			if err := h.Close(); err != nil {
				t.Errorf("close the simulated host: %v", err)
			}
		}
	})
	return h
}

// Host makes a simulated host with options o and opens it.
func Host(t testing.TB, o hostsim.Options) (root string, h *host.Host) {
	t.Helper()
	root = Root(t, o)
	return root, Open(t, root)
}

// StateDir is a state directory for the test, not yet made (vfbypass
// makes it as it would /run/vfbypass).
func StateDir(t testing.TB) string {
	return filepath.Join(t.TempDir(), "state")
}

// Snapshot is the simulated host at root, byte for byte.
func Snapshot(t testing.TB, root string) string {
	t.Helper()
	s, err := hostsim.Snapshot(root)
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return s
}

// Listing is the snapshot of any directory (a state directory, say)
// without its lock files and its top line; "" for a missing directory.
func Listing(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return ""
	}
	var keep []string
	for _, l := range strings.Split(Snapshot(t, dir), "\n") {
		if l != "./" && !strings.Contains(l, ".lock") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// CLI is a command line's entry point: it runs args, writes to stdout and
// stderr, and returns the exit code.
type CLI func(args []string, stdout, stderr io.Writer) int

// Run runs the command line in-process and returns its exit code, stdout
// and stderr.
func (c CLI) Run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = c(args, &out, &errb)
	return code, out.String(), errb.String()
}

// Up is `vfbypass up PF --vfs n --vf 0` on h with state directory state
// (VF 0 on vfio-pci); it returns the VFs' PCI addresses.
func Up(t testing.TB, h *host.Host, state, pf string, n int) []string {
	t.Helper()
	res, err := setup.Up(context.Background(), h, setup.Request{PF: pf, NumVFs: n, VFs: []setup.VFRequest{{Index: 0}}}, setup.Options{StateDir: state})
	if err != nil {
		t.Fatalf("up %s: %v", pf, err)
	}
	var addrs []string
	for _, vf := range res.VFs {
		addrs = append(addrs, vf.Address)
	}
	return addrs
}

// Scrape GETs a Prometheus metrics endpoint at url and returns the body; a
// status other than 200 or a body that is not the text exposition format
// fails the test.
func Scrape(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("scrape %s: %s, %s: %q", url, resp.Status, ct, b)
	}
	return string(b)
}
