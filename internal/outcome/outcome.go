// Package outcome names how an operation of vfbypass ended when it did not
// succeed, as typed errors that carry the operator-facing fix where the
// code that failed knows it:
//
//   - *BadInput: the request or its input was refused; nothing was touched.
//   - *RolledBack: the operation failed and the host is as it was (what had
//     been applied was rolled back, or nothing had been applied yet).
//   - *RollbackIncomplete: the operation failed and putting the host back
//     failed too; the message lists what is still applied.
//   - *Drift: the host is no longer what vfbypass set up (status --check).
//
// An error that carries none of them is a failure with the host as it was.
// Libraries return these types and never exit codes; the command line maps
// the outermost outcome in an error's chain to its exit code (internal/cli).
package outcome

import (
	"errors"
	"fmt"
)

// Error is one of the outcomes of this package (*BadInput, *RolledBack,
// *RollbackIncomplete, *Drift); no other type implements it.
type Error interface {
	error
	Unwrap() error
	fixText() string
}

// BadInput is a refused request or input: nothing was touched. Err names
// the thing and the value, Fix says what to do instead.
type BadInput struct {
	Err error
	Fix string
}

// RolledBack is a failure after which the host is as it was: what had been
// applied was rolled back, or nothing had been applied yet.
type RolledBack struct {
	Err error
	Fix string
}

// RollbackIncomplete is a failure whose rollback (or undo) could not finish:
// Err lists what is still applied, Fix how to finish it.
type RollbackIncomplete struct {
	Err error
	Fix string
}

// Drift is the finding of status --check: the host is no longer what
// vfbypass set up. Err lists the differences, Fix how to repair them.
type Drift struct {
	Err error
	Fix string
}

func (e *BadInput) Error() string           { return withFix(e.Err, e.Fix) }
func (e *RolledBack) Error() string         { return withFix(e.Err, e.Fix) }
func (e *RollbackIncomplete) Error() string { return withFix(e.Err, e.Fix) }
func (e *Drift) Error() string              { return withFix(e.Err, e.Fix) }

func (e *BadInput) Unwrap() error           { return e.Err }
func (e *RolledBack) Unwrap() error         { return e.Err }
func (e *RollbackIncomplete) Unwrap() error { return e.Err }
func (e *Drift) Unwrap() error              { return e.Err }

func (e *BadInput) fixText() string           { return e.Fix }
func (e *RolledBack) fixText() string         { return e.Fix }
func (e *RollbackIncomplete) fixText() string { return e.Fix }
func (e *Drift) fixText() string              { return e.Fix }

// withFix is the message of an outcome: the error, then the fix.
func withFix(err error, fix string) string {
	if fix == "" {
		return err.Error()
	}
	return err.Error() + "; " + fix
}

// Invalid returns a *BadInput: the message names the thing and the value,
// fix says what to do instead.
func Invalid(fix string, format string, args ...any) error {
	return &BadInput{Err: fmt.Errorf(format, args...), Fix: fix}
}

// Failed returns err as a failure with the host as it was (*RolledBack),
// whatever outcome the errors it wraps name: err itself when its outermost
// outcome already is *RolledBack (keeping its fix), nil for nil.
func Failed(err error) error {
	if err == nil || Is[*RolledBack](err) {
		return err
	}
	return &RolledBack{Err: err}
}

// Of returns the outermost outcome in err's chain (the one that decides how
// the operation ended), or nil when there is none.
func Of(err error) Error {
	var e Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Is reports whether the outermost outcome in err's chain is a T.
func Is[T Error](err error) bool {
	_, ok := Of(err).(T)
	return ok
}

// FixOf returns the fix the outermost outcome in err's chain carries, if
// any.
func FixOf(err error) string {
	if e := Of(err); e != nil {
		return e.fixText()
	}
	return ""
}

// MessageOf returns err's message without the fix its outermost outcome
// carries.
func MessageOf(err error) string {
	if e := Of(err); e != nil {
		return e.Unwrap().Error()
	}
	return err.Error()
}
