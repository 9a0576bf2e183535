package outcome

import (
	"errors"
	"fmt"
	"testing"
)

// The outermost outcome in a chain decides how the operation ended, and its
// fix is the one reported.
func TestOutermostDecides(t *testing.T) {
	bad := Invalid("use eth3", "PF %q is not known", "eht3")
	wrapped := fmt.Errorf("up: %w", Failed(fmt.Errorf("resume: %w", bad)))
	if !Is[*RolledBack](wrapped) || Is[*BadInput](wrapped) || FixOf(wrapped) != "" {
		t.Errorf("failure wrapping bad input: outcome %T, fix %q; want *outcome.RolledBack without a fix", Of(wrapped), FixOf(wrapped))
	}
	var b *BadInput
	if !errors.As(wrapped, &b) || b.Fix != "use eth3" {
		t.Errorf("the bad input inside is lost: %v", wrapped)
	}
	if got := bad.Error(); got != `PF "eht3" is not known; use eth3` {
		t.Errorf("message %q", got)
	}
	if Of(errors.New("plain")) != nil || FixOf(errors.New("plain")) != "" || Failed(nil) != nil {
		t.Error("an error without an outcome has one")
	}
}

// Failed keeps a failure that already is one, with its fix.
func TestFailedKeepsItsFix(t *testing.T) {
	inUse := &RolledBack{Err: errors.New("VF 0 is in use"), Fix: "stop that process"}
	if got := Failed(inUse); got != error(inUse) || FixOf(got) != "stop that process" {
		t.Errorf("Failed(%v) = %v (fix %q)", inUse, got, FixOf(got))
	}
	left := &RollbackIncomplete{Err: errors.New("numvfs still 4"), Fix: "run down"}
	if got := Failed(left); !Is[*RolledBack](got) || !errors.Is(got, left) {
		t.Errorf("Failed(%v) = %v (%T)", left, got, Of(got))
	}
}
