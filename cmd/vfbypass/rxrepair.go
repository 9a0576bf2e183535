package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/vfbypass/vfbypass/internal/cli"
	"github.com/vfbypass/vfbypass/internal/outcome"
	"github.com/vfbypass/vfbypass/internal/setup"
)

// queueRx reports whether the receive loop's arguments ask for a PF queue
// (queue mode), before any "--".
func queueRx(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--queue" || strings.HasPrefix(a, "--queue=") {
			return true
		}
	}
	return false
}

// runQueueRx runs the receive loop as a child in queue mode, so that this
// process can repair what the loop's XDP attach and detach reset (the
// handshake is internal/cli's): after the loop says its port is up, the
// table and the rules go back under the PF's lock and the loop starts
// counting; after it exits, they go back again. Signals go to the loop,
// and its exit code is this command's.
func runQueueRx(g *globals, path string, args []string) error {
	fromRx, rxOut, err := os.Pipe()
	if err != nil {
		return outcome.Failed(fmt.Errorf("run %s: %w", path, err))
	}
	rxIn, toRx, err := os.Pipe()
	if err != nil {
		fromRx.Close()
		rxOut.Close()
		return outcome.Failed(fmt.Errorf("run %s: %w", path, err))
	}
	cmd := exec.Command(path, args...)
	// The loop and this process share stderr: one writer at a time when
	// it is not a file (tests).
	stderr := &lockedWriter{w: g.Stderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, g.Stdout, stderr
	if f, ok := g.Stderr.(*os.File); ok {
		cmd.Stderr = f
	}
	cmd.Env = append(os.Environ(), rxCalledAs, cli.RepairFDsEnv+"=3,4")
	cmd.ExtraFiles = []*os.File{rxOut, rxIn}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	err = cmd.Start()
	rxOut.Close()
	rxIn.Close()
	link := cli.NewRepairLink(toRx, fromRx)
	defer link.Close()
	if err != nil {
		return outcome.Failed(fmt.Errorf("run %s: %w", path, err))
	}
	done := make(chan struct{})
	defer close(done)
	go forwardSignals(cmd.Process, sigs, done)
	target := serveRepairs(link, stderr)
	werr := cmd.Wait()
	var rerr error
	if target != nil {
		rerr = repairFor(*target, "after the receiver's XDP detach", stderr)
	}
	return rxExit(path, werr, rerr)
}

// forwardSignals passes the signals this process gets to the loop.
func forwardSignals(p *os.Process, sigs <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case s := <-sigs:
			_ = p.Signal(s)
		case <-done:
			return
		}
	}
}

// serveRepairs answers the loop until it closes its end: it returns the
// loop's "starting" message (which PF to repair), nil when none came.
func serveRepairs(link *cli.RepairLink, stderr io.Writer) *cli.RepairMsg {
	var target *cli.RepairMsg
	for {
		m, err := link.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(stderr, "vfbypass rx: %v\n", err)
			}
			return target
		}
		switch m.Event {
		case cli.RepairStarting:
			target = &m
		case cli.RepairAttached:
			answer := cli.RepairMsg{Event: cli.RepairDone}
			if target != nil {
				if err := repairFor(*target, "after the receiver's XDP attach", stderr); err != nil {
					answer.Error = err.Error()
				}
			}
			if err := link.Send(answer); err != nil {
				fmt.Fprintf(stderr, "vfbypass rx: %v\n", err)
			}
		}
	}
}

// repairFor puts back what the reset named by after took from the PF the
// loop receives on, and says so on stderr.
func repairFor(m cli.RepairMsg, after string, stderr io.Writer) error {
	hg := cli.Globals{HostRoot: m.HostRoot}
	h, err := hg.OpenHost()
	if err != nil {
		return err
	}
	defer h.Close()
	res, err := setup.Repair(context.Background(), h, m.PF, after, setup.Options{StateDir: m.StateDir})
	for _, s := range res.Steps {
		fmt.Fprintf(stderr, "vfbypass rx: %s %s\n", s.Status, s.Action)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "vfbypass rx: warning: %s\n", w)
	}
	if err != nil {
		err = fmt.Errorf("put back the setup of %s %s: %w", m.PF, after, err)
		cli.PrintError(stderr, err)
	}
	return err
}

// rxExit is the command's outcome: the loop's exit (its report is printed
// already, its exit code passes through), or a failure when the last repair
// failed after a loop that succeeded.
func rxExit(path string, werr, rerr error) error {
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		return cli.Printed{Err: &cli.ChildExit{Path: path, Err: werr}}
	case werr != nil:
		return outcome.Failed(fmt.Errorf("run %s: %w", path, werr))
	case rerr != nil:
		return cli.Printed{Err: outcome.Failed(rerr)}
	}
	return nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
