// Package outcome classifies the errors vfbypass returns into the exit codes
// of its command-line contract, and carries the operator-facing fix with them.
//
//	0  success (also when nothing had to change)
//	1  failed, and what had been applied was rolled back
//	2  bad usage or input: nothing was touched
//	3  failed, and the rollback could not finish
//	4  status --check: the PF has drifted from what vfbypass set up
package outcome

import (
	"errors"
	"fmt"
)

// Exit codes of the vfbypass command line.
const (
	OK                 = 0
	Failed             = 1
	BadInput           = 2
	RollbackIncomplete = 3
	Drift              = 4
)

// Error is an error with an exit code and, where one is known, the fix an
// operator should apply.
type Error struct {
	Code int
	Err  error
	Fix  string
}

func (e *Error) Error() string {
	if e.Fix == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "; " + e.Fix
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid returns a bad-input error (exit 2): the message names the thing and
// the value, fix says what to do instead.
func Invalid(fix string, format string, args ...any) error {
	return &Error{Code: BadInput, Err: fmt.Errorf(format, args...), Fix: fix}
}

// WithCode wraps err with an exit code, keeping an existing fix.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e.Code == code {
		return err
	}
	return &Error{Code: code, Err: err}
}

// Code returns the exit code for err: 0 for nil, the code of the outermost
// *Error in the chain, and Failed for anything else.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failed
}

// FixOf returns the fix attached to err, if any.
func FixOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Fix
	}
	return ""
}
