package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vfbypass/vfbypass/internal/host"
	"github.com/vfbypass/vfbypass/internal/journal"
	"github.com/vfbypass/vfbypass/internal/outcome"
)

// ErrNotUp is RepairDrift's answer when the PF's journal holds no request to
// repair to: 'vfbypass down' ran (or up never did).
var ErrNotUp = errors.New("not up: the PF has no journal with a request")

// ErrRequestChanged is RepairDrift's answer when another up changed the
// journal's request while RepairDrift waited for the PF's lock: the caller
// reads the request again.
var ErrRequestChanged = errors.New("the journal's request changed while the repair waited for the lock")

// ErrNotRepairable marks drift a repair leaves alone because only up
// with --recreate could change it (the VF count).
var ErrNotRepairable = errors.New("not repairable in place")

// RepairDrift brings the PF back to the request its journal holds, with up's
// own phases (lock, journal, resume, plan, apply, rules): the drift status
// reports is what it repairs. It is up without its choices: it never
// changes the VF count (ErrNotRepairable) and never recreates, and it
// refuses to start a journal (ErrNotUp), so a repair that runs after a
// down changes nothing.
func RepairDrift(ctx context.Context, h *host.Host, pf string, opts Options) (*UpResult, error) {
	store := journal.Store{Dir: opts.StateDir}
	j, err := store.Load(pf)
	if err != nil {
		return &UpResult{}, err
	}
	if j == nil || j.Request == nil || !j.Active() {
		return &UpResult{}, ErrNotUp
	}
	var req Request
	if err := json.Unmarshal(j.Request, &req); err != nil {
		return &UpResult{}, outcome.WithCode(outcome.Failed, fmt.Errorf("journal %s: request: %w", store.Path(pf), err))
	}
	opts.Recreate, opts.DryRun = false, false
	opts.repairOf = j.Request
	return Up(ctx, h, req, opts)
}

// checkRepairOf holds RepairDrift's request against the journal up loaded
// under the lock.
func (u *upRun) checkRepairOf(j *journal.Journal) error {
	switch {
	case u.opts.repairOf == nil:
		return nil
	case j == nil || j.Request == nil:
		return ErrNotUp
	case !bytes.Equal(j.Request, u.opts.repairOf):
		return ErrRequestChanged
	}
	return nil
}
