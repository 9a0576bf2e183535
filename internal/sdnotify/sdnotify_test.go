package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestNotifyOnASocket: a state arrives as one datagram on the socket
// NOTIFY_SOCKET names, a path or an abstract name (@); without the
// variable nothing is sent and nothing fails.
func TestNotifyOnASocket(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@vfbypass-sdnotify-test-" + t.Name()} {
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": name}))
		for _, st := range []string{"READY=1", "WATCHDOG=1"} {
			if err := n.Notify(st); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			buf := make([]byte, 64)
			if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			k, _, err := conn.ReadFromUnix(buf)
			if err != nil || string(buf[:k]) != st {
				t.Fatalf("%s: read %q %v; want %q", name, buf[:k], err, st)
			}
		}
		conn.Close()
	}
	n := FromEnv(env(nil))
	if n.Enabled() || n.Notify("READY=1") != nil {
		t.Fatal("a notifier without NOTIFY_SOCKET is enabled or fails")
	}
	if err := FromEnv(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none")})).Notify("READY=1"); err == nil {
		t.Fatal("a socket that does not exist: no error")
	}
}

func TestWatchdog(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want time.Duration
		bad  bool
	}{
		{env: nil},
		{env: map[string]string{"WATCHDOG_USEC": "60000000"}, want: time.Minute},
		{env: map[string]string{"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "42"}, want: time.Minute},
		{env: map[string]string{"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "43"}},
		{env: map[string]string{"WATCHDOG_USEC": "x"}, bad: true},
		{env: map[string]string{"WATCHDOG_USEC": "0"}, bad: true},
	} {
		d, err := Watchdog(env(c.env), 42)
		if d != c.want || (err != nil) != c.bad {
			t.Errorf("%v: %v %v; want %v, error %v", c.env, d, err, c.want, c.bad)
		}
	}
}
