package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The signal matrix: every command of contractScenarios, run as the built
// binary, gets SIGTERM, SIGINT, SIGHUP or SIGPIPE at a random instant of
// its run. The step under way finishes or rolls back and the command exits
// with the contract's code and prints its result (contractHost.check); a
// SIGPIPE is survived. A process the signal killed is allowed only before
// it installed its handlers, when nothing was touched. make test sends
// one signal per scenario, in turn; make faults (VFBYPASS_FAULTS=full)
// all four, at eight instants each.
func TestSignalMatrix(t *testing.T) {
	full := os.Getenv("VFBYPASS_FAULTS") == "full"
	if testing.Short() && !full {
		t.Skip("runs the binary once per signal and instant")
	}
	bin := buildBinary(t)
	sigs := []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGPIPE}
	seed := time.Now().UnixNano()
	rnd := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)
	runs, breaks := 0, 0
	for i, s := range contractScenarios() {
		c := prepareContract(t, s)
		took := c.cleanBinaryRun(t, bin)
		cells := []syscall.Signal{sigs[i%len(sigs)]}
		if full {
			cells = nil
			for k := 0; k < 8; k++ {
				cells = append(cells, sigs...)
			}
		}
		for _, sig := range cells {
			delay := time.Duration(rnd.Int63n(int64(took) + 1))
			runs++
			if msg := c.signalAt(t, bin, sig, delay); msg != "" {
				breaks++
				t.Errorf("%s, %v after %v: %s", s.name, sig, delay, msg)
			}
		}
	}
	t.Logf("signal matrix: %d runs, %d contract breaks", runs, breaks)
}

// cleanBinaryRun runs the scenario's command without a fault: the host it
// leaves and how long it took.
func (c *contractHost) cleanBinaryRun(t *testing.T, bin string) time.Duration {
	t.Helper()
	dir := c.copyTo(t)
	start := time.Now()
	if out, err := c.command(bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s without a signal: %v: %s", c.name, err, out)
	}
	took := time.Since(start)
	c.clean = snapshot(t, filepath.Join(dir, "h"))
	return took
}

func (c *contractHost) command(bin, dir string) *exec.Cmd {
	return exec.Command(bin, append([]string{"-o", "json", "--host-root", filepath.Join(dir, "h"), "--state-dir", filepath.Join(dir, "s")}, at(dir, c.args)...)...)
}

// signalAt runs the command and sends sig after delay.
func (c *contractHost) signalAt(t *testing.T, bin string, sig syscall.Signal, delay time.Duration) string {
	dir := c.copyTo(t)
	cmd := c.command(bin, dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(sig) // the run may be over already
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		// Killed before the handlers were in place: nothing may have changed.
		if snapshot(t, filepath.Join(dir, "h")) != c.host0 || snapshot(t, filepath.Join(dir, "s")) != c.state0 {
			return fmt.Sprintf("killed by %v after it changed the host", ws.Signal())
		}
		return c.downRestores(t, dir)
	}
	if out.Len() == 0 {
		return fmt.Sprintf("exit %d without its result on stdout: %s", code, firstLines(errb.String(), 3))
	}
	if sig == syscall.SIGPIPE && code != 0 {
		return fmt.Sprintf("SIGPIPE made it fail: exit %d: %s", code, firstLines(out.String(), 3))
	}
	if msg := c.check(t, dir, code, out.String()+errb.String()); msg != "" {
		return fmt.Sprintf("%s (exit %d: %s)", msg, code, firstLines(out.String(), 3))
	}
	return ""
}
