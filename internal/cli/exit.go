package cli

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

// The exit codes of both binaries (docs/json.md), the one place they are
// chosen. A command's error decides by the outermost outcome in its chain
// (package outcome):
//
//	0  success (also when nothing had to change)
//	1  failed, and what had been applied was rolled back (*outcome.RolledBack,
//	   or an error that names no outcome)
//	2  bad usage or input: nothing was touched (*outcome.BadInput)
//	3  failed, and the rollback could not finish (*outcome.RollbackIncomplete)
//	4  status --check: the PF has drifted from what vfbypass set up
//	   (*outcome.Drift)
//
// A vfbypass binary this one ran (*ChildExit) chose its code by the same
// table, which passes through; killed by a signal, it failed (1).
const (
	exitOK                 = 0
	exitFailed             = 1
	exitBadInput           = 2
	exitRollbackIncomplete = 3
	exitDrift              = 4
)

// ExitCode is the process exit code for err.
func ExitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var (
		child *ChildExit
		exit  *exec.ExitError
	)
	if errors.As(err, &child) && errors.As(child.Err, &exit) {
		if code := exit.ExitCode(); code > 0 {
			return code
		}
		return exitFailed
	}
	switch outcome.Of(err).(type) {
	case *outcome.BadInput:
		return exitBadInput
	case *outcome.RollbackIncomplete:
		return exitRollbackIncomplete
	case *outcome.Drift:
		return exitDrift
	}
	return exitFailed
}

// ExitStatus is the exit-code table above in man page terms. The receive
// loop uses the first three.
func ExitStatus() []ManEntry {
	return []ManEntry{
		{fmt.Sprint(exitOK), "success, also when nothing had to change"},
		{fmt.Sprint(exitFailed), "failed; what had been applied was rolled back"},
		{fmt.Sprint(exitBadInput), "bad usage or input: nothing was touched; the message names the value and a fix"},
		{fmt.Sprint(exitRollbackIncomplete), "failed, and the rollback could not finish: the message lists what is still applied, and the journal keeps it for down"},
		{fmt.Sprint(exitDrift), "status --check: a PF has drifted from what vfbypass set up"},
	}
}

// ChildExit is the exit of a vfbypass binary this one ran and waited for
// (vfbypass rx runs vfbypass-rx when it must put the setup back after the
// loop): that binary printed its outcome and chose its exit code by the same
// table, so the code passes through. Err is the *exec.ExitError of the wait.
type ChildExit struct {
	Path string
	Err  error
}

func (e *ChildExit) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *ChildExit) Unwrap() error { return e.Err }
