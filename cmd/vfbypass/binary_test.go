package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The binaries the tests run as separate processes are built once per test
// binary run, on first use, into one directory TestMain removes at the end.
// Tests that put something next to the binary (vfbypass rx looks for
// vfbypass-rx in its own directory first) take a private copy with
// binaryIn; every other test runs the shared one from buildBinary.

// testLdflags are the version and commit both test binaries carry, as make
// build would set them.
const testLdflags = "-X github.com/vfbypass/vfbypass/internal/buildinfo.version=1.2.3-4-gabc " +
	"-X github.com/vfbypass/vfbypass/internal/buildinfo.commit=0123456789abcdef"

var (
	binDir string // made by TestMain; empty when a test runs without it

	vfbOnce sync.Once
	vfbPath string
	vfbErr  error

	rxOnce sync.Once
	rxPath string
	rxErr  error
	rxSkip string // why vfbypass-rx cannot be built here
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeRxEnv) != "" {
		os.Exit(fakeRx(os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "vfbypass-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds pkg to out with the test ldflags; cgo tells whether cgo
// is on (off for the static control plane, as make build does).
func goBuild(out, pkg string, cgo bool) error {
	cmd := exec.Command("go", "build", "-ldflags", testLdflags, "-o", out, pkg)
	if !cgo {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// buildBinary returns the vfbypass binary built as make build does (static,
// no cgo), built once per run. Nothing may be written next to it: use
// binaryIn for that.
func buildBinary(t *testing.T) string {
	t.Helper()
	vfbOnce.Do(func() {
		vfbPath = filepath.Join(binDir, "vfbypass")
		vfbErr = goBuild(vfbPath, ".", false)
	})
	if vfbErr != nil {
		t.Fatal(vfbErr)
	}
	return vfbPath
}

// buildRx returns vfbypass-rx built once per run (in a directory of its
// own, so that it is not next to the shared vfbypass), and skips the test
// when there is no DPDK to build it with.
func buildRx(t *testing.T) string {
	t.Helper()
	path, skip, err := rxBuilt()
	if skip != "" {
		t.Skip(skip)
	}
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// rxBuilt builds vfbypass-rx once; skip says why it cannot be built here.
func rxBuilt() (path, skip string, err error) {
	rxOnce.Do(func() {
		if err := exec.Command("pkg-config", "--exists", "libdpdk").Run(); err != nil {
			rxSkip = fmt.Sprintf("no libdpdk to build vfbypass-rx with (apt-get install libdpdk-dev pkg-config): %v", err)
			return
		}
		dir := filepath.Join(binDir, "rx")
		if rxErr = os.MkdirAll(dir, 0o755); rxErr != nil {
			return
		}
		rxPath = filepath.Join(dir, rxBinary)
		rxErr = goBuild(rxPath, "../vfbypass-rx", true)
	})
	return rxPath, rxSkip, rxErr
}

// binaryIn returns a private copy of the vfbypass binary in a directory of
// its own, with the real vfbypass-rx next to it when withRx.
func binaryIn(t *testing.T, withRx bool) string {
	t.Helper()
	dir := t.TempDir()
	if withRx {
		linkOrCopy(t, buildRx(t), filepath.Join(dir, rxBinary))
	}
	bin := filepath.Join(dir, "vfbypass")
	linkOrCopy(t, buildBinary(t), bin)
	return bin
}

// linkOrCopy hard-links src to dst (os.Executable then names dst), or
// copies it when they are on different file systems.
func linkOrCopy(t *testing.T, src, dst string) {
	t.Helper()
	if os.Link(src, dst) == nil {
		return
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
