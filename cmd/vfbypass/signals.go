package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vfbypass/vfbypass/internal/host"
)

// changeSignals are the signals a command that changes the host catches
// while it works: the step under way finishes (up rolls back what it
// changed), and the command exits with the contract's code and prints its
// result. Each is the operator (or a session manager) asking the run to
// stop, and none may leave a PF half changed.
var changeSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// whileChanging catches changeSignals until stop is called; ctx is
// cancelled at the first. Commands whose work cannot stop half-way
// (down, steer) catch them and finish. After stop they are still caught,
// and dropped, until the process exits: one arriving while the result is
// printed or the process ends would otherwise kill a run that changed the
// host before it returned the contract's exit code.
func whileChanging() (ctx context.Context, stop context.CancelFunc) {
	ctx, cancel := signal.NotifyContext(context.Background(), changeSignals...)
	return ctx, func() {
		signal.Notify(make(chan os.Signal, 1), changeSignals...)
		cancel()
	}
}

// survivePipes keeps a closed pipe on stdout or stderr ('vfbypass down
// eth3 2>&1 | head -1') from killing the process with SIGPIPE half-way
// through a change: the write fails with EPIPE instead, and the work goes
// on. A handler (not SIG_IGN) is installed, so a program exec'd later
// (vfbypass-rx) starts with SIGPIPE at its default again.
func survivePipes() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}

// changing is withHost for a steer batch, which is finished, or taken out
// again, as a whole: changeSignals are caught while it runs.
func (g *globals) changing(f func(h *host.Host) error) error {
	_, stop := whileChanging()
	defer stop()
	return g.withHost(f)
}
