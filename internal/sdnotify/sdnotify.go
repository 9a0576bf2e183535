// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): a state such as "READY=1" or "WATCHDOG=1" is one datagram
// on the unix socket that $NOTIFY_SOCKET names (a leading @ is Linux's
// abstract namespace), and $WATCHDOG_USEC is the watchdog period, meant
// for the process $WATCHDOG_PID names when set.
package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Notifier sends states to the service manager. Its zero value (no
// NOTIFY_SOCKET: not started by systemd, or Type= is not notify) sends
// nothing.
type Notifier struct {
	socket string
}

// FromEnv returns the notifier the environment (os.Getenv) describes.
func FromEnv(getenv func(string) string) Notifier {
	return Notifier{socket: getenv("NOTIFY_SOCKET")}
}

// Enabled reports whether there is a service manager to tell.
func (n Notifier) Enabled() bool { return n.socket != "" }

// Notify sends state ("READY=1", "WATCHDOG=1", "STATUS=...", "STOPPING=1").
func (n Notifier) Notify(state string) error {
	if n.socket == "" {
		return nil
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %s: %w", n.socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %s: %w", n.socket, err)
	}
	return nil
}

// Watchdog is the watchdog period systemd expects a WATCHDOG=1 within
// (WatchdogSec=), or 0 when there is none or it is meant for another
// process (pid is this one's).
func Watchdog(getenv func(string) string, pid int) (time.Duration, error) {
	v := getenv("WATCHDOG_USEC")
	if v == "" {
		return 0, nil
	}
	if p := getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(pid) {
		return 0, nil
	}
	us, err := strconv.ParseUint(v, 10, 63)
	if err != nil || us == 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q is not a positive number of microseconds", v)
	}
	return time.Duration(us) * time.Microsecond, nil
}
