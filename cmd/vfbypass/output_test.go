package main

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/hostsim"
	"github.com/vfbypass/vfbypass/internal/journal"
)

// Text output reads right: undo steps say what they do, counts are
// grammatical, steer list is laid out as ethtool -n, no plan header above
// an error.
func TestTextOutputReadsRight(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	cli := func(args ...string) string {
		t.Helper()
		code, out, errs := vfb(append(append([]string{}, g...), args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}
	cli("up", "eth3", "--vfs", "2", "--vf", "0")
	if out := cli("steer", "add", "eth3", "--vf", "0", "flow-type", "udp4", "dst-port", "4789"); !strings.HasPrefix(out, "eth3: 1 rule added, 0 installed already") {
		t.Errorf("steer add: %q", out)
	}
	cli("steer", "add", "eth3", "--vf", "0", "flow-type", "udp4", "dst-port", "4790")

	list := cli("steer", "list", "eth3")
	if !regexp.MustCompile(`^\d+ RX rings available\nTotal 2 rules\n\nFilter: \d+\n`).MatchString(list) ||
		strings.Count(list, "Filter: ") != 2 || !strings.HasSuffix(list, "queue 0 (added by vfbypass steer)\n\n") ||
		strings.Count(list, "\n\n") != 3 {
		t.Errorf("steer list is not laid out as ethtool -n:\n%s", list)
	}
	brief := strings.Split(strings.TrimSuffix(cli("steer", "list", "eth3", "--brief"), "\n"), "\n")
	if len(brief) != 2 {
		t.Fatalf("--brief: %q", brief)
	}
	for _, l := range brief {
		f := strings.Split(l, "\t")
		if len(f) != 4 || !strings.HasPrefix(f[1], "flow-type udp4 dst-port 47") || !strings.HasPrefix(f[2], "VF 0 (") || f[3] != "vfbypass steer" {
			t.Errorf("--brief line %q", l)
		}
	}
	if st := cli("status", "eth3"); !regexp.MustCompile(`\d+ steps, 2 rules\n`).MatchString(st) {
		t.Errorf("status journal line:\n%s", st)
	}

	down := cli("down", "eth3")
	for _, want := range []string{"switch ntuple filters off (ethtool -K eth3 ntuple off)", "write 0 to ", "/sriov_numvfs: the VFs go", "delete ntuple rule"} {
		if !strings.Contains(down, want) {
			t.Errorf("down lacks %q:\n%s", want, down)
		}
	}
	if strings.Contains(down, "undo: ") {
		t.Errorf("down names the steps it undoes instead of what it does:\n%s", down)
	}

	code, out, errs := vfb(append(append([]string{}, g...), "down", "eth3", "--dry-run")...)
	if code != 2 || out != "" || !strings.Contains(errs, "no journal") {
		t.Errorf("down --dry-run without a journal: exit %d, stdout %q (want none above the error), stderr %q", code, out, errs)
	}
}

// A run that waits more than a second for another run's lock says so on
// stderr.
func TestLockWaitIsSaid(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(append([]string{}, g...), "up", "eth3", "--vfs", "1")...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"steer", "clear", "eth3"}, "vfbypass: waiting for another vfbypass run on eth3"},
		{[]string{"down", "eth3"}, "→ waiting for another vfbypass run on eth3"},
	} {
		code, errs := runWhileLocked(t, root, state, c.want, append(append([]string{}, g...), c.args...)...)
		if code != 0 || strings.Count(errs, c.want) != 1 {
			t.Errorf("%v: exit %d, stderr %q; want one %q", c.args, code, errs, c.want)
		}
	}
}

// runWhileLocked runs args while another holder has eth3's lock, and lets
// the lock go once the run's stderr holds want (or after 30 s, when the
// caller's check fails), not after a sleep that a loaded machine outruns:
// the exit code and stderr.
func runWhileLocked(t *testing.T, root, state, want string, args ...string) (int, string) {
	t.Helper()
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	held, err := journal.Store{Dir: state}.Lock(h.FS, "eth3", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	said := &noticeWriter{want: want, said: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-said.said:
		case <-time.After(30 * time.Second):
		}
		held.Unlock()
		h.Close()
	}()
	var out bytes.Buffer
	code := run(args, &out, said)
	<-done
	return code, said.buf.String()
}

// noticeWriter is a stderr that closes said once want has been written.
type noticeWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	said chan struct{}
	once sync.Once
}

func (w *noticeWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.said) })
	}
	return n, err
}
