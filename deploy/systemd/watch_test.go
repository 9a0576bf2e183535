package systemd

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watcherOnSimulator runs vfbypass-watch@eth3's ExecStart, as installed,
// the way systemd runs a Type=notify service with WatchdogSec= (a
// NOTIFY_SOCKET datagram socket, WATCHDOG_USEC), after vfbypass@eth3's
// ExecStart on a simulated 82599: the watcher reports READY=1 and then
// WATCHDOG=1; vfbypass@eth3's ExecStop (down) ends it with exit 0. The
// unit restarts on failure but not after bad input (exit 2), and binds to
// the boot unit.
func watcherOnSimulator(t *testing.T, dest string) {
	w := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass-watch@.service"))
	for k, want := range map[string]string{"Type": "notify", "Restart": "on-failure", "RestartPreventExitStatus": "2", "BindsTo": "vfbypass@%i.service", "After": "vfbypass@%i.service"} {
		if got := w.get(k); got != want {
			t.Errorf("%s=%s; want %s", k, got, want)
		}
	}
	wd, err := time.ParseDuration(w.get("WatchdogSec"))
	if err != nil || wd <= 0 {
		t.Fatalf("WatchdogSec=%q: %v", w.get("WatchdogSec"), err)
	}
	boot := readUnit(t, filepath.Join(dest, "lib/systemd/system/vfbypass@.service"))
	sim, state := simHost(t, dest, "eth3")
	g := []string{"--host-root", sim, "--state-dir", state}
	up := boot.commandLine(t, "ExecStart", "eth3", dest, g...)
	if o, err := exec.Command(up[0], up[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("vfbypass@eth3 ExecStart: %v\n%s", err, o)
	}
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	args := w.commandLine(t, "ExecStart", "eth3", dest, g...)
	cmd := exec.Command(args[0], args[1:]...)
	// The unit's period would make the test wait 30 s for a WATCHDOG=1.
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var states []string
	buf := make([]byte, 256)
	for len(states) < 2 {
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			t.Fatalf("states %v, then %v\n%s", states, err, out.String())
		}
		states = append(states, string(buf[:n]))
	}
	if strings.Join(states, " ") != "READY=1 WATCHDOG=1" {
		t.Fatalf("states %v; want READY=1 then WATCHDOG=1", states)
	}
	stop := boot.commandLine(t, "ExecStop", "eth3", dest, g...)
	if o, err := exec.Command(stop[0], stop[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("vfbypass@eth3 ExecStop: %v\n%s", err, o)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "stopped (down)") {
			t.Fatalf("watcher after down: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watcher runs 10 s after down\n%s", out.String())
	}
}
