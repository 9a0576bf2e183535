//go:build cgo && !nodpdk

package rx

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// ealChildEnv makes the test binary run one test's EAL scenario (EAL starts
// once per process, so each runs in a child); its value is the EAL
// --file-prefix.
const ealChildEnv = "VFBYPASS_RX_INTERNAL_CHILD"

// inChild reports whether this process is the child of test; in the parent
// it runs the child, skipping without root or DPDK, and fails the test
// unless the child's test passed.
func inChild(t *testing.T, test string) (prefix string, child bool) {
	t.Helper()
	if p := os.Getenv(ealChildEnv); p != "" {
		return p, true
	}
	if os.Geteuid() != 0 {
		t.Skip("DPDK tests need root (EAL maps memory)")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"); err != nil {
		t.Skipf("DPDK PMD plugins not installed (%v): apt-get install dpdk libdpdk-dev", err)
	}
	prefix = "vfbint" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), ealChildEnv+"="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return prefix, false
}

func childEAL(t *testing.T, prefix string, extra ...string) *EAL {
	t.Helper()
	args := append([]string{"--no-huge", "-m", "256", "--no-pci", "--file-prefix", prefix, "--log-level", "*:warning"}, extra...)
	e, err := InitEAL(args)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCallsRacingClose calls into the EAL thread from several goroutines
// while Close shuts it down: every call either runs or returns ErrClosed;
// none may send on the closed call channel (a panic).
func TestCallsRacingClose(t *testing.T) {
	prefix, child := inChild(t, "TestCallsRacingClose")
	if !child {
		return
	}
	e := childEAL(t, prefix, "-l", "0")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if err := e.do(func() {}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call after Close: %v, want ErrClosed", err)
		}
	}
}

// TestStatsRacingClose reads a running port's statistics, counters and
// the EAL's ports from several goroutines while Close stops and closes the
// port and cleans EAL up: every read either succeeds or says ErrClosed
// (never a DPDK error from a port half closed). Run it with -race (make
// integration does, in test-rx-race).
func TestStatsRacingClose(t *testing.T) {
	prefix, child := inChild(t, "TestStatsRacingClose")
	if !child {
		return
	}
	e := childEAL(t, prefix, "-l", "0,1", "--vdev", "net_null0")
	p, err := e.OpenPort("net_null0", PortConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(LoopConfig{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	reads := make(chan int, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for ; ; n++ {
				p.Counters()
				if i%2 == 0 {
					e.Ports()
				}
				if _, err := p.Stats(); err != nil {
					errs <- err
					reads <- n
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	close(reads)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Stats racing Close: %v, want ErrClosed", err)
		}
	}
	total := 0
	for n := range reads {
		total += n
	}
	if total == 0 {
		t.Error("no Stats call succeeded before Close: the race was not run")
	}
	if names := e.Ports(); names != nil {
		t.Errorf("Ports after Close: %q, want none", names)
	}
	if _, err := e.PortID("net_null0"); !errors.Is(err, ErrClosed) {
		t.Errorf("PortID after Close: %v, want ErrClosed", err)
	}
}

// TestCounterAllocationFailureLeavesPortAlone makes the allocation of a
// port's counters fail: OpenPort says ENOMEM and has not touched the port,
// so a second OpenPort configures and starts it (a port left started by
// the first would refuse the configuration).
func TestCounterAllocationFailureLeavesPortAlone(t *testing.T) {
	prefix, child := inChild(t, "TestCounterAllocationFailureLeavesPortAlone")
	if !child {
		return
	}
	e := childEAL(t, prefix, "-l", "0,1", "--vdev", "net_null0")
	defer e.Close()
	e.alloc = func(uintptr) unsafe.Pointer { return nil }
	if _, err := e.OpenPort("net_null0", PortConfig{}); !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("OpenPort with no memory for counters: %v, want ENOMEM", err)
	}
	e.alloc = cAlloc
	p, err := e.OpenPort("net_null0", PortConfig{})
	if err != nil {
		t.Fatalf("OpenPort after the failed one: %v", err)
	}
	l, err := p.Start(LoopConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Until the loop has counted packets (a starved lcore counts late),
	// at most 5 s.
	for start := time.Now(); Sum(p.Counters()).Packets == 0 && time.Since(start) < 5*time.Second; {
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if Sum(p.Counters()).Packets == 0 {
		t.Fatal("the port opened after the failure received nothing in 5 s")
	}
}

// TestArgvAllocationFailure: when the argv array cannot be allocated,
// InitEAL's cArgv says ENOMEM (and EAL is never called with a NULL argv).
func TestArgvAllocationFailure(t *testing.T) {
	argv, argc, err := cArgv([]string{"-l", "0", "--no-huge"}, func(n, size uintptr) unsafe.Pointer { return nil })
	if !errors.Is(err, syscall.ENOMEM) || argv != nil || argc != 0 {
		t.Fatalf("cArgv with a failing calloc: %v, %v, %d; want ENOMEM", err, argv, argc)
	}
	if !strings.Contains(err.Error(), "4 arguments") {
		t.Errorf("error %q does not say how many arguments", err)
	}
	argv, argc, err = cArgv([]string{"-l", "0"}, cCalloc)
	if err != nil || argv == nil || argc != 3 {
		t.Fatalf("cArgv: %v, %v, %d; want 3 arguments (the program name first)", err, argv, argc)
	}
}
