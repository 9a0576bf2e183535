package cli

import (
	"errors"
	"fmt"
	"os/exec"
	"testing"

	"github.com/vfbypass/vfbypass/internal/outcome"
)

// The exit-code contract: the outermost outcome decides; a child's code
// passes through.
func TestExitCode(t *testing.T) {
	child := exec.Command("sh", "-c", "exit 3").Run()
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("plain"), 1},
		{&outcome.RolledBack{Err: errors.New("x")}, 1},
		{outcome.Invalid("fix", "bad"), 2},
		{fmt.Errorf("wrapped: %w", outcome.Invalid("fix", "bad")), 2},
		{outcome.Failed(outcome.Invalid("fix", "bad")), 1},
		{&outcome.RollbackIncomplete{Err: errors.New("left")}, 3},
		{&outcome.Drift{Err: errors.New("drift")}, 4},
		{Printed{&ChildExit{Path: "vfbypass-rx", Err: child}}, 3},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if len(ExitStatus()) != 5 {
		t.Errorf("the man page lists %d exit codes, want 0 to 4", len(ExitStatus()))
	}
}

// Usage makes what cobra refused before a command ran bad usage, and
// keeps an outcome the refusal already names.
func TestUsage(t *testing.T) {
	if err := Usage(errors.New("requires at least 1 arg(s)"), "see --help"); ExitCode(err) != 2 || outcome.FixOf(err) != "see --help" {
		t.Errorf("Usage of a plain error: %v (exit %d)", err, ExitCode(err))
	}
	keep := outcome.Invalid("own fix", "bad")
	if err := Usage(keep, "see --help"); err != keep || Usage(nil, "x") != nil {
		t.Errorf("Usage(%v) = %v", keep, err)
	}
}
