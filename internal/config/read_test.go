package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

// pipe returns the read end of a pipe holding data (written by a goroutine,
// so data may exceed the pipe's buffer).
func pipe(t *testing.T, data []byte) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Write(data); w.Close() }()
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	big := filepath.Join(dir, "big.yaml")
	fifo := filepath.Join(dir, "fifo")
	if err := os.WriteFile(small, []byte("pf: eth3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	stdinPipe := pipe(t, []byte("pf: eth9\n"))
	for _, c := range []struct {
		name, path string
		stdin      *os.File
		want       string // data, or "error: words"
	}{
		{"regular file", small, nil, "pf: eth3\n"},
		{"stdin", Stdin, pipe(t, []byte("pf: eth4\n")), "pf: eth4\n"},
		{"stdin by its path (a pipe, as /dev/stdin)", fmt.Sprintf("/proc/self/fd/%d", stdinPipe.Fd()), stdinPipe, "pf: eth9\n"},
		{"file larger than 1 MiB", big, nil, "error: larger than 1048576 bytes"},
		{"stdin larger than 1 MiB", Stdin, pipe(t, make([]byte, 3*MaxSize)), "error: larger than 1048576 bytes"},
		{"FIFO that is not stdin", fifo, pipe(t, nil), "error: is a FIFO"},
		{"device", "/dev/zero", nil, "error: is a character device"},
		{"directory", dir, nil, "error: is a directory"},
		{"missing", filepath.Join(dir, "nope"), nil, "error: no such file"},
		{"no stdin", Stdin, nil, "error: no standard input"},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			b, err := Read(c.path, c.stdin)
			if time.Since(start) > 5*time.Second {
				t.Errorf("Read took %v", time.Since(start))
			}
			want, isErr := strings.CutPrefix(c.want, "error: ")
			if !isErr {
				if err != nil || string(b) != want {
					t.Fatalf("Read = %q, %v; want %q", b, err, want)
				}
				return
			}
			if err == nil || !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), want) || outcome.FixOf(err) == "" {
				t.Fatalf("Read error %v (outcome %T), want exit 2 with %q and a fix", err, outcome.Of(err), want)
			}
		})
	}
}

// /dev/zero as standard input is refused after 1 MiB, not read to the end.
func TestReadZeroStdin(t *testing.T) {
	z, err := os.Open("/dev/zero")
	if err != nil {
		t.Skip(err)
	}
	defer z.Close()
	if _, err := Read(Stdin, z); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Read(/dev/zero on stdin) = %v", err)
	}
}

func TestDecodeRefusals(t *testing.T) {
	type inner struct {
		N *int `yaml:"n"`
	}
	type top struct {
		Name  string  `yaml:"name"`
		Items []inner `yaml:"items"`
		On    bool    `yaml:"on"`
	}
	for _, c := range []struct{ text, want string }{
		{"name: a\nitems:\n  - n: 1\n  - n: x\n", `line 4: items[1].n: "x" is not a whole number`},
		{"name: a\nitems:\n  - m: 1\n", `line 3: items[0].m: unknown key "m"`},
		{"on: maybe\n", `line 1: on: "maybe" is not true or false`},
		{"- a\n", "line 1: the config must be keys with values"},
		{"name: a\n---\nname: b\n", "line 2: a second YAML document"},
		{"items:\n  - n: 99999999999\n", "line 2: items[0].n: 99999999999 is out of range"},
		{"name: [a]\n", "line 1: name: must be a single value"},
		// Numbers are decimal: YAML 1.1 would read 0100 as octal 64.
		{"items:\n  - n: 0100\n", "line 2: items[0].n: 0100 has a leading zero, which some tools read as octal (0100 as 64): write the number in decimal without it (100)"},
		{"items:\n  - n: 0x10\n", "line 2: items[0].n: 0x10 is not a decimal number"},
		{"items:\n  - n: 0o17\n", "line 2: items[0].n: 0o17 is not a decimal number"},
		{"items:\n  - n: 1_000\n", `line 2: items[0].n: "1_000" is not a whole number`},
		{"items:\n  - n: +5\n", `line 2: items[0].n: "+5" is not a whole number`},
	} {
		var v top
		_, err := Decode([]byte(c.text), &v)
		if err == nil || err.Error() != c.want && !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Decode(%q) = %v, want %q", c.text, err, c.want)
		}
	}
	var v top
	lines, err := Decode([]byte("name: a\non: off\nitems:\n  - {n: 0}\n  - {n: ~}\n"), &v)
	if err != nil || !(v.Name == "a" && !v.On && *v.Items[0].N == 0 && v.Items[1].N == nil) {
		t.Errorf("Decode = %+v, %v", v, err)
	}
	for path, want := range map[string]int{"name": 1, "on": 2, "items": 3, "items[1]": 5, "items[1].n": 5, "items[0].m": 4, "items[7].n": 3, "nope": 0} {
		if got := lines.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
}

// A terminal on standard input is refused rather than waited on, by "-"
// and by its path.
func TestReadRefusesTerminal(t *testing.T) {
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	tty, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open %s: %v", name, err)
	}
	defer tty.Close()
	for _, path := range []string{Stdin, name} {
		if _, err := Read(path, tty); err == nil || !outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "is a terminal") {
			t.Errorf("Read(%s) with a terminal on stdin = %v, want exit 2 saying it is a terminal", path, err)
		}
	}
}

// ParseInt is the one reading of a number: decimal, no leading zero.
func TestParseInt(t *testing.T) {
	for s, want := range map[string]int{"0": 0, "7": 7, "-1": -1, "4095": 4095, "2147483647": 2147483647} {
		if got, err := ParseInt(s); err != nil || got != want {
			t.Errorf("ParseInt(%q) = %d, %v, want %d", s, got, err, want)
		}
	}
	for s, want := range map[string]string{"010": "leading zero", "00": "leading zero", "-07": "leading zero", "0x1": "not a decimal",
		"0b1": "not a decimal", "": "not a whole", "1e3": "not a whole", " 1": "not a whole", "+1": "not a whole", "2147483648": "out of range"} {
		if _, err := ParseInt(s); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseInt(%q) = %v, want an error saying %q", s, err, want)
		}
	}
}

// TestReadRefusesConfigOthersCanWrite: a config file writable by group or
// others is refused, as the state directory is; 0644 and 0600 are read.
func TestReadRefusesConfigOthersCanWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "eth3.yaml")
	if err := os.WriteFile(p, []byte("vfs: 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o600, true}, {0o644, true}, {0o664, false}, {0o646, false}, {0o666, false}} {
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, err := Read(p, nil)
		if tc.ok != (err == nil) || (err != nil && (!outcome.Is[*outcome.BadInput](err) || !strings.Contains(err.Error(), "chmod go-w "+p))) {
			t.Errorf("mode %04o: %v; want ok=%v, else exit 2 with chmod go-w", tc.mode, err, tc.ok)
		}
	}
}
