package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scaleRow is one command of the scale bench: its time and the journal
// writes it made (saves and removals of the PF's journal).
type scaleRow struct {
	rules, vfs int
	command    string
	took       time.Duration
	writes     int
	load       string // the load average when it ended
}

// runScale runs, for each rule count, on a fresh simulated 82599 with the
// same vfs VFs for every row: up of a config with the VFs and the rules, the same up again (a
// no-op), status, and down; it prints each command's time and journal
// writes and the machine's load average, and down's time against up's.
func runScale(bin string, counts []int, vfs int) error {
	tmp, err := os.MkdirTemp("", "steerbench-scale.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("%6s %4s  %-10s %9s  %-14s  %s\n", "rules", "VFs", "command", "time", "journal writes", "load average (1 5 15 min)")
	for _, n := range counts {
		rows, err := scaleOne(bin, filepath.Join(tmp, strconv.Itoa(n)), n, vfs)
		if err != nil {
			return fmt.Errorf("%d rules: %w", n, err)
		}
		for _, r := range rows {
			fmt.Printf("%6d %4d  %-10s %7.2f s  %-14d  %s\n", r.rules, r.vfs, r.command, r.took.Seconds(), r.writes, r.load)
		}
		fmt.Printf("%6d %4d  down/up    %7.2fx\n", n, vfs, rows[3].took.Seconds()/rows[0].took.Seconds())
	}
	return nil
}

// loadAverage is the machine's load average when a command ended
// (/proc/loadavg's first three fields), so that a row measured on a busy
// machine says so.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func scaleOne(bin, dir string, n, vfs int) ([]scaleRow, error) {
	root, state := filepath.Join(dir, "host"), filepath.Join(dir, "state")
	if out, err := exec.Command(bin, "sim", "init", root).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sim init: %v: %s", err, out)
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, scaleConfig(n, vfs), 0o600); err != nil {
		return nil, err
	}
	g := []string{"--host-root", root, "--state-dir", state, "-o", "json"}
	var rows []scaleRow
	for _, c := range []struct {
		name string
		args []string
	}{
		{"up", []string{"up", "--config", cfg}},
		{"no-op up", []string{"up", "--config", cfg}},
		{"status", []string{"status", "eth3"}},
		{"down", []string{"down", "eth3"}},
	} {
		took, writes, err := timed(bin, state, append(append([]string{}, g...), c.args...))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		rows = append(rows, scaleRow{rules: n, vfs: vfs, command: c.name, took: took, writes: writes, load: loadAverage()})
	}
	return rows, nil
}

// scaleConfig is a config with vfs VFs, each with a MAC and bound to
// vfio-pci, and n rules spread over them (one ixgbe mask, distinct
// addresses).
func scaleConfig(n, vfs int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "pf: eth3\nvfs: %d\nvf:\n", vfs)
	for k := 0; k < vfs; k++ {
		fmt.Fprintf(&b, "  - index: %d\n    mac: 02:00:00:00:%02x:%02x\n", k, k>>8, k&255)
	}
	b.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - vf: %d\n    flow: %s\n", i%vfs, strings.Join(rule(i), " "))
	}
	return b.Bytes()
}

// timed runs bin with args and counts the journal writes in state: each
// save renames a temporary file over PF.json, each removal unlinks it.
func timed(bin, state string, args []string) (time.Duration, int, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return 0, 0, fmt.Errorf("inotify: %w", err)
	}
	wd, err := unix.InotifyAddWatch(fd, state, unix.IN_MOVED_TO|unix.IN_DELETE)
	if err != nil {
		unix.Close(fd)
		return 0, 0, fmt.Errorf("watch %s: %w", state, err)
	}
	count := make(chan int)
	go func() {
		n := 0
		buf := make([]byte, 1<<16)
		for {
			k, err := unix.Read(fd, buf)
			if k <= 0 || err != nil {
				count <- n
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= k; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				if name == "eth3.json" {
					n++
				}
				if ev.Mask&unix.IN_IGNORED != 0 {
					count <- n
					return
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()
	start := time.Now()
	out, err := exec.Command(bin, args...).CombinedOutput()
	took := time.Since(start)
	// Removing the watch queues IN_IGNORED after every event of the run.
	unix.InotifyRmWatch(fd, uint32(wd))
	n := <-count
	unix.Close(fd)
	if err != nil {
		return took, n, fmt.Errorf("%v: %s", err, out)
	}
	return took, n, nil
}
