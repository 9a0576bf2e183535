//go:build linux && amd64

package capture

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// The ioctl and command numbers are golang.org/x/sys/unix's. The struct
// offsets are written here rather than taken from pkg/flows because
// pkg/flows' own tests import this package (an import of pkg/flows would be
// a cycle); the comparison with Parse in those tests checks them.
const (
	ifrDataOff   = 16  // struct ifreq: ifr_data after the IFNAMSIZ name
	rxnfcData    = 8   // struct ethtool_rxnfc.data (__u64)
	rxnfcRuleCnt = 184 // struct ethtool_rxnfc.rule_cnt
)

// Run runs `ethtool -N dev words...` under the tracer.
func Run(ethtool, dev string, words []string) (Result, error) {
	// Every ptrace request must come from the thread that started the
	// tracee.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stderr bytes.Buffer
	cmd := exec.Command(ethtool, append([]string{"-N", dev}, words...)...)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start %s: %w", ethtool, err)
	}
	t := &tracer{pid: cmd.Process.Pid}
	res, err := t.run()
	if err != nil {
		_ = cmd.Process.Kill()
	}
	_ = cmd.Wait() // reaps nothing more: run waited for the exit
	res.Stderr = stderr.String()
	return res, err
}

type tracer struct {
	pid      int
	inSys    bool // between a syscall-enter and its syscall-exit stop
	skipped  bool // the current syscall is answered here, not by the kernel
	inserted []byte
}

func (t *tracer) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		return ws, err
	}
}

// run follows the tracee from its exec stop to its exit.
func (t *tracer) run() (Result, error) {
	ws, err := t.wait()
	if err != nil {
		return Result{}, fmt.Errorf("wait for ethtool: %w", err)
	}
	if !ws.Stopped() {
		return Result{}, fmt.Errorf("ethtool did not stop at exec (%v)", ws)
	}
	if err := unix.PtraceSetOptions(t.pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return Result{}, fmt.Errorf("ptrace options: %w", err)
	}
	sig := 0
	for {
		if err := unix.PtraceSyscall(t.pid, sig); err != nil {
			return Result{}, fmt.Errorf("ptrace syscall: %w", err)
		}
		sig = 0
		if ws, err = t.wait(); err != nil {
			return Result{}, fmt.Errorf("wait for ethtool: %w", err)
		}
		switch {
		case ws.Exited():
			ok := ws.ExitStatus() == 0 && t.inserted != nil
			r := Result{Accepted: ok}
			if ok {
				r.Rxnfc = t.inserted
			}
			return r, nil
		case ws.Signaled():
			return Result{}, fmt.Errorf("ethtool killed by %v", ws.Signal())
		case ws.Stopped() && ws.StopSignal() == syscall.SIGTRAP|0x80:
			if err := t.syscallStop(); err != nil {
				return Result{}, err
			}
		case ws.Stopped():
			sig = int(ws.StopSignal()) // deliver the tracee's own signal
		}
	}
}

// syscallStop handles one syscall-enter or syscall-exit stop.
func (t *tracer) syscallStop() error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(t.pid, &regs); err != nil {
		return fmt.Errorf("ptrace getregs: %w", err)
	}
	t.inSys = !t.inSys
	if !t.inSys { // exit: a skipped call returns 0
		if t.skipped {
			t.skipped = false
			setReturn(&regs, 0)
			return t.setRegs(&regs)
		}
		return nil
	}
	nr, a1, a2 := syscallArgs(&regs)
	if nr != unix.SYS_IOCTL || a1 != unix.SIOCETHTOOL {
		return nil
	}
	handled, err := t.ethtool(uintptr(a2))
	if err != nil || !handled {
		return err
	}
	t.skipped = true
	skipSyscall(&regs)
	return t.setRegs(&regs)
}

func (t *tracer) setRegs(regs *unix.PtraceRegs) error {
	if err := unix.PtraceSetRegs(t.pid, regs); err != nil {
		return fmt.Errorf("ptrace setregs: %w", err)
	}
	return nil
}

// ethtool answers one SIOCETHTOOL request whose struct ifreq is at ifr; it
// reports false for a command it leaves to the kernel.
func (t *tracer) ethtool(ifr uintptr) (bool, error) {
	var p [8]byte
	if _, err := unix.PtracePeekData(t.pid, ifr+ifrDataOff, p[:]); err != nil {
		return false, fmt.Errorf("read ifr_data: %w", err)
	}
	data := uintptr(binary.NativeEndian.Uint64(p[:]))
	buf := make([]byte, RxnfcSize)
	if _, err := unix.PtracePeekData(t.pid, data, buf); err != nil {
		return false, fmt.Errorf("read struct ethtool_rxnfc: %w", err)
	}
	switch binary.NativeEndian.Uint32(buf) {
	case unix.ETHTOOL_GRXRINGS:
		binary.NativeEndian.PutUint64(buf[rxnfcData:], RxRings)
	case unix.ETHTOOL_GRXCLSRLCNT, unix.ETHTOOL_GRXCLSRLALL:
		binary.NativeEndian.PutUint64(buf[rxnfcData:], TableSize)
		binary.NativeEndian.PutUint32(buf[rxnfcRuleCnt:], 0)
	case unix.ETHTOOL_SRXCLSRLINS:
		t.inserted = buf
		return true, nil
	case unix.ETHTOOL_SRXCLSRLDEL:
		return true, nil
	default:
		return false, nil
	}
	if _, err := unix.PtracePokeData(t.pid, data, buf); err != nil {
		return false, fmt.Errorf("write struct ethtool_rxnfc: %w", err)
	}
	return true, nil
}
