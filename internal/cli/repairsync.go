package cli

// The repair handshake of queue mode's receiver. Attaching the receiver's
// XDP program resets an ixgbe PF (ixgbe_xdp_setup → ixgbe_setup_tc →
// ixgbe_close), which deletes every ntuple rule and refills the RSS
// indirection table with the hidden queue in it; detaching does it again.
// One owner repairs: `vfbypass rx` (the control plane) runs the receive
// loop as its child with two pipes and puts the table and the rules back,
// under the PF's lock, after the attach and again after the child exits.
// The receive loop never writes them: it says when its port is up and
// waits for the answer before it counts.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// RepairFDsEnv names the receiver's ends of the two pipes, "W,R": it
// writes its messages to W and reads the control plane's answers from R.
const RepairFDsEnv = "VFBYPASS_RX_REPAIR_FDS"

// Repair handshake events.
const (
	// RepairStarting: the receiver resolved its device and is about to
	// attach (PF, Queue, HostRoot and StateDir say which PF to repair).
	RepairStarting = "starting"
	// RepairAttached: the receiver's port is started, its XDP program
	// attached; it waits for RepairDone.
	RepairAttached = "attached"
	// RepairDone: the control plane's answer; Error says what it could
	// not put back.
	RepairDone = "repaired"
)

// RepairMsg is one line of the handshake.
type RepairMsg struct {
	Event    string `json:"event"`
	PF       string `json:"pf,omitempty"`
	Queue    int    `json:"queue,omitempty"`
	HostRoot string `json:"host_root,omitempty"`
	StateDir string `json:"state_dir,omitempty"`
	Error    string `json:"error,omitempty"`
}

// RepairLink is one side of the handshake: messages out, answers in.
type RepairLink struct {
	w io.WriteCloser
	r *bufio.Reader
	c io.Closer
}

// NewRepairLink joins w (messages out) and r (messages in).
func NewRepairLink(w io.WriteCloser, r io.ReadCloser) *RepairLink {
	return &RepairLink{w: w, r: bufio.NewReader(r), c: r}
}

// ReceiverLink is the receiver's side, from RepairFDsEnv (nil when the
// receiver was not started by the control plane).
func ReceiverLink() (*RepairLink, error) {
	v := os.Getenv(RepairFDsEnv)
	if v == "" {
		return nil, nil
	}
	ws, rs, ok := strings.Cut(v, ",")
	w, err1 := strconv.Atoi(ws)
	r, err2 := strconv.Atoi(rs)
	if !ok || err1 != nil || err2 != nil || w < 3 || r < 3 {
		return nil, fmt.Errorf("%s=%q: want the two descriptors W,R", RepairFDsEnv, v)
	}
	return NewRepairLink(os.NewFile(uintptr(w), "repair-out"), os.NewFile(uintptr(r), "repair-in")), nil
}

// Send writes m as one line.
func (l *RepairLink) Send(m RepairMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("repair handshake: send %s: %w", m.Event, err)
	}
	return nil
}

// Next reads the next message; io.EOF when the other side closed its end.
func (l *RepairLink) Next() (RepairMsg, error) {
	var m RepairMsg
	line, err := l.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return m, io.EOF
		}
		return m, fmt.Errorf("repair handshake: %w", err)
	}
	if err := json.Unmarshal(line, &m); err != nil {
		return m, fmt.Errorf("repair handshake: %q: %w", line, err)
	}
	return m, nil
}

// Attached tells the control plane that the port is up and waits for its
// repair; the answer's Error is what it could not put back.
func (l *RepairLink) Attached() (RepairMsg, error) {
	if err := l.Send(RepairMsg{Event: RepairAttached}); err != nil {
		return RepairMsg{}, err
	}
	m, err := l.Next()
	if err == nil && m.Event != RepairDone {
		err = fmt.Errorf("repair handshake: got %q, want %q", m.Event, RepairDone)
	}
	return m, err
}

// Close closes both ends.
func (l *RepairLink) Close() error {
	return errors.Join(l.w.Close(), l.c.Close())
}
