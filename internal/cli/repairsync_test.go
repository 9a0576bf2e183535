package cli

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// The handshake over two pipes: the receiver's starting and attached
// messages arrive in order, Attached returns the control plane's answer,
// and a closed end is io.EOF.
func TestRepairHandshake(t *testing.T) {
	cpIn, rxOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rxIn, cpOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	rx, cp := NewRepairLink(rxOut, rxIn), NewRepairLink(cpOut, cpIn)
	done := make(chan error, 1)
	go func() {
		m, err := cp.Next()
		if err == nil && (m.Event != RepairStarting || m.PF != "eth3" || m.Queue != 15) {
			err = errors.New("starting message " + m.Event + " " + m.PF)
		}
		if err == nil {
			m, err = cp.Next()
		}
		if err == nil && m.Event != RepairAttached {
			err = errors.New("attached message " + m.Event)
		}
		if err == nil {
			err = cp.Send(RepairMsg{Event: RepairDone, Error: "rule 100 refused"})
		}
		done <- err
	}()
	if err := rx.Send(RepairMsg{Event: RepairStarting, PF: "eth3", Queue: 15}); err != nil {
		t.Fatal(err)
	}
	m, err := rx.Attached()
	if err != nil || m.Error != "rule 100 refused" {
		t.Fatalf("attached: %+v %v", m, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := rx.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cp.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the receiver closed: %v, want EOF", err)
	}
}

// Without the variable the receiver runs alone; a malformed one is an
// error naming it.
func TestReceiverLinkFromEnv(t *testing.T) {
	t.Setenv(RepairFDsEnv, "")
	if l, err := ReceiverLink(); l != nil || err != nil {
		t.Fatalf("without %s: %v %v", RepairFDsEnv, l, err)
	}
	t.Setenv(RepairFDsEnv, "3")
	if _, err := ReceiverLink(); err == nil || !strings.Contains(err.Error(), RepairFDsEnv) {
		t.Fatalf("malformed %s: %v", RepairFDsEnv, err)
	}
}
