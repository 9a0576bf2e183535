package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/hostsim"
)

// The fault matrix: each of up, steer add (plain, masked, replacing the
// rule at a location), steer del and down runs under strace with one
// syscall (write, openat, openat2, renameat, fsync, unlinkat, linkat) failing with
// EIO or killing the process with SIGKILL at its Nth call. After each run
// 'vfbypass down' (at most twice) must bring the simulated host back byte
// for byte to what it was before the first up, and leave no file but locks
// in the state directory; anything else is a leak.
//
// make test runs one cell per scenario and syscall: the first, the middle
// or the last call, with EIO or SIGKILL, in turn over the cells (sampleCell);
// make faults (VFBYPASS_FAULTS=full) runs every call number with both,
// openat and openat2 (which the simulator's reads make the most frequent
// calls) every FAULTS_OPENAT_STRIDE-th.

// openat2 is how RootFS opens files under a --host-root (RESOLVE_IN_ROOT).
var matrixSyscalls = []string{"write", "openat", "openat2", "renameat", "fsync", "unlinkat", "linkat"}

// matrixScenario is one command of the matrix and what sets it up.
type matrixScenario struct {
	name   string
	before [][]string
	args   []string
}

func matrixScenarios() []matrixScenario {
	up := []string{"up", "eth3", "--vfs", "2", "--vf", "0", "--mac", "02:00:00:00:00:01", "--trust"}
	add := func(words ...string) []string {
		return append([]string{"steer", "add", "eth3"}, words...)
	}
	at7 := add("--vf", "0", "flow-type", "tcp4", "dst-port", "80", "loc", "7")
	return []matrixScenario{
		{"up", nil, up},
		{"steer-add", [][]string{up}, add("--vf", "0", "flow-type", "tcp4", "dst-port", "80")},
		{"steer-add-masked", [][]string{up}, add("--vf", "0", "flow-type", "ip4", "dst-ip", "10.0.0.7", "m", "0.0.0.255")},
		{"steer-add-loc", [][]string{up, at7}, add("--vf", "1", "flow-type", "tcp4", "dst-port", "81", "loc", "7")},
		{"steer-del", [][]string{up, at7}, []string{"steer", "del", "eth3", "7"}},
		{"down", [][]string{up, at7}, []string{"down", "eth3"}},
	}
}

// matrixCase is one cell: a scenario, a syscall, a fault and a call number.
type matrixCase struct {
	sc      *prepared
	syscall string
	fault   string // "EIO" or "KILL"
	when    int
}

func (c matrixCase) String() string {
	return fmt.Sprintf("%s %s:%s:when=%d", c.sc.name, c.syscall, c.fault, c.when)
}

// prepared is a scenario's host and state directory after its set-up
// commands, copied for each run, and the most calls one thread makes of
// each syscall.
type prepared struct {
	matrixScenario
	dir      string
	pristine string
	calls    map[string]int
}

func TestFaultMatrix(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the binary under strace a few hundred times")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (apt-get install strace)")
	}
	if out, err := exec.Command(strace, "-qq", "-e", "trace=none", "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here (%v): %s", err, out)
	}
	bin := buildBinary(t)
	full := os.Getenv("VFBYPASS_FAULTS") == "full"
	stride := 1
	if s, err := strconv.Atoi(os.Getenv("FAULTS_OPENAT_STRIDE")); err == nil && s > 0 {
		stride = s
	}
	preps := prepareAll(t, bin, strace)
	if t.Failed() {
		return
	}
	var cases []matrixCase
	for i, p := range preps {
		for j, sc := range matrixSyscalls {
			if !full {
				if n, f := sampleCell(p.calls[sc], i*len(matrixSyscalls)+j); n > 0 {
					cases = append(cases, matrixCase{p, sc, f, n})
				}
				continue
			}
			for _, n := range callNumbers(p.calls[sc], strings.HasPrefix(sc, "openat"), stride) {
				cases = append(cases, matrixCase{p, sc, "EIO", n}, matrixCase{p, sc, "KILL", n})
			}
		}
	}
	var (
		mu       sync.Mutex
		leaks    []string
		injected int
		wg       sync.WaitGroup
	)
	work := make(chan matrixCase)
	for w := 0; w < runtime.NumCPU(); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				hit, leak := c.run(bin, strace, filepath.Join(t.TempDir()))
				mu.Lock()
				if hit {
					injected++
				}
				if leak != "" {
					leaks = append(leaks, c.String()+": "+leak)
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for _, c := range cases {
		work <- c
	}
	close(work)
	wg.Wait()
	sort.Strings(leaks)
	mode := "sample"
	if full {
		mode = "full"
	}
	fmt.Printf("fault matrix (%s): %d runs (%d scenarios x %d syscalls x EIO/SIGKILL x call numbers), %d with the fault injected, %d leaks, %s\n",
		mode, len(cases), len(matrixScenarios()), len(matrixSyscalls), injected, len(leaks), time.Since(start).Round(time.Second))
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}
}

// callNumbers are the N of when=N to try for a syscall a thread makes at
// most max times in the full matrix: all of them, openat every stride-th.
func callNumbers(max int, openat bool, stride int) []int {
	step := 1
	if openat {
		step = stride
	}
	var ns []int
	for n := 1; n <= max; n += step {
		ns = append(ns, n)
	}
	return ns
}

// sampleCell is make test's one cell of the k-th scenario and syscall pair,
// of a syscall a thread makes at most max times (n 0: none): the first,
// the middle and the last call in turn, and EIO and SIGKILL in turn, so
// the six combinations come round every six cells.
func sampleCell(max, k int) (n int, fault string) {
	if max == 0 {
		return 0, ""
	}
	n = []int{1, (max + 1) / 2, max}[k%3]
	fault = "EIO"
	if k/3%2 == 1 {
		fault = "KILL"
	}
	return n, fault
}

// prepareAll prepares every scenario, side by side; their trees live in
// t's temporary directories, so the cells can copy them.
func prepareAll(t *testing.T, bin, strace string) []*prepared {
	scenarios := matrixScenarios()
	preps := make([]*prepared, len(scenarios))
	t.Run("prepare", func(t0 *testing.T) {
		for i, s := range scenarios {
			dir := t.TempDir()
			t0.Run(s.name, func(t *testing.T) {
				t.Parallel()
				preps[i] = prepare(t, dir, bin, strace, s)
			})
		}
	})
	return preps
}

// prepare runs the scenario's set-up once in dir and counts its syscalls.
func prepare(t *testing.T, dir, bin, strace string, s matrixScenario) *prepared {
	t.Helper()
	p := &prepared{matrixScenario: s, dir: dir}
	root, state := filepath.Join(p.dir, "h"), filepath.Join(p.dir, "s")
	if out, err := exec.Command(bin, "sim", "init", root).CombinedOutput(); err != nil {
		t.Fatalf("sim init: %v %s", err, out)
	}
	p.pristine = snapshot(t, root)
	for _, b := range s.before {
		if out, err := exec.Command(bin, append([]string{"--host-root", root, "--state-dir", state}, b...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %v %s", s.name, b, err, out)
		}
	}
	run := t.TempDir()
	if err := copyTree(p.dir, run); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(run, "trace")
	args := append([]string{"-f", "-qq", "-o", trace, "-e", "trace=" + strings.Join(matrixSyscalls, ","), "--",
		bin, "--host-root", filepath.Join(run, "h"), "--state-dir", filepath.Join(run, "s")}, s.args...)
	if out, err := exec.Command(strace, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s without faults: %v %s", s.name, err, out)
	}
	p.calls = countCalls(t, trace)
	t.Logf("%s: most calls in one thread: %v", s.name, p.calls)
	return p
}

// countCalls reads an strace -f log: the most calls of each syscall one
// thread made (strace counts when=N per thread).
func countCalls(t *testing.T, trace string) map[string]int {
	t.Helper()
	f, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	per := map[string]int{}
	most := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		name, _, ok := strings.Cut(fields[1], "(")
		if !ok {
			continue
		}
		k := fields[0] + " " + name
		per[k]++
		if per[k] > most[name] {
			most[name] = per[k]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return most
}

// copyTree copies a host and its state directories from from to to; the
// rule claims under to's hosts name the state directories under to, as if
// the runs had been there (a claim names its state directory by path).
func copyTree(from, to string) error {
	if out, err := exec.Command("cp", "-a", from+"/.", to).CombinedOutput(); err != nil {
		return fmt.Errorf("cp -a %s %s: %v %s", from, to, err, out)
	}
	claims, err := filepath.Glob(filepath.Join(to, "*", "run/lock/vfbypass/*.claims"))
	if err != nil {
		return err
	}
	rfrom, err := filepath.EvalSymlinks(from)
	if err != nil {
		return err
	}
	rto, err := filepath.EvalSymlinks(to)
	if err != nil {
		return err
	}
	for _, c := range claims {
		b, err := os.ReadFile(c)
		if err != nil {
			return err
		}
		b = []byte(strings.ReplaceAll(string(b), `"`+rfrom+"/", `"`+rto+"/"))
		if err := os.WriteFile(c, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// run runs one cell in dir: whether the fault was injected, and what leaked
// ("" for nothing).
func (c matrixCase) run(bin, strace, dir string) (bool, string) {
	if err := copyTree(c.sc.dir, dir); err != nil {
		return false, err.Error()
	}
	root, state, trace := filepath.Join(dir, "h"), filepath.Join(dir, "s"), filepath.Join(dir, "trace")
	inject := c.syscall + ":error=EIO"
	if c.fault == "KILL" {
		inject = c.syscall + ":signal=KILL"
	}
	args := append([]string{"-f", "-qq", "-o", trace, "-e", "trace=" + c.syscall, "-e", fmt.Sprintf("inject=%s:when=%d", inject, c.when), "--",
		bin, "--host-root", root, "--state-dir", state}, c.sc.args...)
	cmd := exec.Command(strace, args...)
	done := make(chan []byte, 1)
	go func() { out, _ := cmd.CombinedOutput(); done <- out }()
	var out []byte
	select {
	case out = <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		<-done
		return true, "hung for 2 minutes"
	}
	tr, _ := os.ReadFile(trace)
	hit := strings.Contains(string(tr), "INJECTED") || strings.Contains(string(tr), "killed by SIGKILL")
	if strings.Contains(string(out), "panic:") {
		return hit, "panicked: " + firstLines(string(out), 6)
	}
	var downOut []byte
	for i := 0; i < 2; i++ {
		var err error
		downOut, err = exec.Command(bin, "--host-root", root, "--state-dir", state, "down", "eth3", "--missing-ok").CombinedOutput()
		if err == nil {
			break
		}
		if i == 1 {
			return hit, fmt.Sprintf("down twice still fails: %v: %s (the faulted run said: %s)", err, firstLines(string(downOut), 4), firstLines(string(out), 4))
		}
	}
	if got, err := hostsim.Snapshot(root); err != nil || trimSnapshot(got) != c.sc.pristine {
		return hit, fmt.Sprintf("down did not restore the host (%v): %s (the faulted run said: %s)", err, firstDiff(c.sc.pristine, trimSnapshot(got)), firstLines(string(out), 4))
	}
	ents, err := os.ReadDir(state)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return hit, err.Error()
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".lock") {
			return hit, fmt.Sprintf("left %s in the state directory (the faulted run said: %s)", e.Name(), firstLines(string(out), 4))
		}
	}
	return hit, ""
}

// trimSnapshot is snapshot's filtering of a host root's listing.
func trimSnapshot(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if l != "./" && !strings.Contains(l, ".lock") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func firstLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[:n]
	}
	return strings.Join(ls, " | ")
}
