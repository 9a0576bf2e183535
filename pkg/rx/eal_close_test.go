//go:build cgo && !nodpdk

package rx

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// closeChildEnv makes the test binary run TestCallsRacingClose's EAL
// scenario (EAL starts once per process, so it runs in a child).
const closeChildEnv = "VFBYPASS_RX_CLOSE_CHILD"

// TestCallsRacingClose calls into the EAL thread from several goroutines
// while Close shuts it down: every call either runs or returns ErrClosed;
// none may send on the closed call channel (a panic).
func TestCallsRacingClose(t *testing.T) {
	prefix := "vfbclose" + strconv.Itoa(os.Getpid())
	if os.Getenv(closeChildEnv) != "" {
		e, err := InitEAL([]string{"-l", "0", "--no-huge", "-m", "256", "--no-pci", "--file-prefix", os.Getenv(closeChildEnv), "--log-level", "*:warning"})
		if err != nil {
			t.Fatal(err)
		}
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
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("DPDK tests need root (EAL maps memory)")
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"); err != nil {
		t.Skipf("DPDK PMD plugins not installed (%v): apt-get install dpdk libdpdk-dev", err)
	}
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestCallsRacingClose$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), closeChildEnv+"="+prefix)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestCallsRacingClose") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
