package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/vfbypass/vfbypass/internal/simtest"
)

// watchConfig is queue mode with two rules: a reset takes both the rules
// and the hidden table.
const watchConfig = `pf: eth3
mode: queue
queue: 15
rules:
  - flow: "flow-type udp4 dst-port 4789"
  - flow: "flow-type udp4 dst-port 4790"
`

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// notifySocket listens where a watcher started with NOTIFY_SOCKET sends
// its states; states delivers them.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: p, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, 256)
		for {
			n, _, err := c.ReadFromUnix(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return p, ch
}

func waitState(t *testing.T, states <-chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-states:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %s from the watcher in 10 s", want)
		}
	}
}

// TestCLIWatchRepairsAReset is the watcher's contract on the simulator:
// started under a systemd-style notification socket it reports READY=1
// and keeps the watchdog; a reset (rules flushed, table refilled, link
// down and up) makes status --check exit 4 until the watcher repaired it,
// then 0; the repair is in its -o jsonl log, its metrics and status; on
// SIGTERM it exits 0 with a summary line.
func TestCLIWatchRepairsAReset(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	root, state := simHost(t)
	cfg := filepath.Join(t.TempDir(), "eth3.yaml")
	if err := os.WriteFile(cfg, []byte(watchConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(g, "up", "--config", cfg)...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	sock, states := notifySocket(t)
	addr := freeAddr(t)
	cmd := exec.Command(bin, append(g, "-o", "jsonl", "watch", "--config", cfg, "--metrics-addr", addr)...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitState(t, states, "READY=1")
	waitState(t, states, "WATCHDOG=1")
	// ixgbe_close deletes the rules; ixgbe_open refills the table.
	for _, d := range []string{"down", "up"} {
		if code, _, e := vfb(append(g, "sim", "link", "eth3", d)...); code != 0 {
			t.Fatalf("sim link eth3 %s: %d %s", d, code, e)
		}
	}
	start := time.Now()
	code := 4
	for time.Since(start) < 5*time.Second && code != 0 {
		code, _, _ = vfb(append(g, "status", "eth3", "--check")...)
	}
	if code != 0 {
		t.Fatalf("status --check still %d 5 s after the reset; watcher stderr:\n%s", code, stderr.String())
	}
	t.Logf("status --check clean %v after the reset", time.Since(start).Round(time.Millisecond))
	// The watcher may repair while the link is down (the rules) and again
	// after it came up (the table ixgbe_open refilled): at least one
	// repair of each, and no drift left.
	wants := []*regexp.Regexp{
		regexp.MustCompile(`(?m)^vfbypass_watch_repairs_total\{field="rule",pf="eth3",result="repaired"\} [2-9]$`),
		regexp.MustCompile(`(?m)^vfbypass_watch_repairs_total\{field="rss.indir",pf="eth3",result="repaired"\} [1-9]$`),
		regexp.MustCompile(`(?m)^vfbypass_watch_drift_fields\{pf="eth3"\} 0$`),
		regexp.MustCompile(`(?m)^vfbypass_watch_events_total\{kind="link",pf="eth3"\} [2-9]$`),
	}
	var metrics string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		// The watcher counts a repair once it has read the drift again.
		if metrics = simtest.Scrape(t, "http://"+addr+"/metrics"); wants[1].MatchString(metrics) && wants[2].MatchString(metrics) {
			break
		}
	}
	for _, want := range wants {
		if !want.MatchString(metrics) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}
	promtoolCheck(t, metrics)
	_, out, _ := vfb(append(g, "-o", "json", "status", "eth3")...)
	var st struct {
		PFs []struct {
			Watcher struct {
				Running    bool `json:"running"`
				LastRepair struct {
					Fields []string `json:"fields"`
				} `json:"last_repair"`
			} `json:"watcher"`
		} `json:"pfs"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.PFs) != 1 || !st.PFs[0].Watcher.Running || len(st.PFs[0].Watcher.LastRepair.Fields) == 0 {
		t.Fatalf("status's watcher: %+v %v; want running, with its last repair\n%s", st, err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch after SIGTERM: %v\n%s", err, stderr.String())
	}
	recs := jsonLines(t, stdout.String())
	repaired := map[string]bool{}
	for _, r := range recs {
		if r["result"] == "repaired" {
			repaired[r["field"].(string)] = true
			if !strings.HasPrefix(r["trigger"].(string), "event ") || r["latency_ms"] == nil || r["want"] == nil {
				t.Errorf("record %v: want an event as trigger, the latency and the wanted value", r)
			}
		}
	}
	if len(repaired) != 3 || !repaired["rss.indir"] {
		t.Errorf("repaired %v; want rss.indir and two rules\n%s", repaired, stdout.String())
	}
	if last := recs[len(recs)-1]; last["type"] != "summary" || last["stopped"] != "signal" {
		t.Errorf("last line %v; want the summary, stopped by a signal", last)
	}
}

// TestCLIWatchEndsWithDown: down ends a watcher with exit 0 and the state
// directory as before up; a watcher of a PF that is not up, or a second
// one, is bad input.
func TestCLIWatchEndsWithDown(t *testing.T) {
	root, state := simHost(t)
	g := []string{"--host-root", root, "--state-dir", state}
	if code, _, e := vfb(append(g, "watch", "eth3")...); code != 2 || !strings.Contains(e, "vfbypass up eth3") {
		t.Fatalf("watch before up: %d %s; want 2 saying to run up", code, e)
	}
	if code, _, e := vfb(append(g, "up", "eth3", "--vfs", "1", "--driver", "none", "--mac", "02:00:00:00:00:01")...); code != 0 {
		t.Fatalf("up: %d %s", code, e)
	}
	type result struct {
		code          int
		stdout, stder string
	}
	done := make(chan result, 1)
	go func() {
		code, out, e := vfb(append(g, "watch", "eth3")...)
		done <- result{code, out, e}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(state, "eth3.watch")); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watcher state after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _, e := vfb(append(g, "watch", "eth3")...); code != 2 || !strings.Contains(e, "another watcher") {
		t.Fatalf("second watcher: %d %s; want 2", code, e)
	}
	if code, _, e := vfb(append(g, "down", "eth3")...); code != 0 {
		t.Fatalf("down: %d %s", code, e)
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.stdout, "stopped (down)") {
			t.Fatalf("watch after down: %d\n%s%s", r.code, r.stdout, r.stder)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch runs 10 s after down")
	}
	if ents, err := os.ReadDir(state); err != nil || len(ents) != 0 {
		t.Fatalf("state directory after down: %v %v; want empty", ents, err)
	}
	for _, bad := range [][]string{{"watch"}, {"watch", "eth3", "--resync", "10ms"}, {"-o", "xml", "watch", "eth3"}, {"watch", "eth3", "--metrics-addr", "nope"}} {
		if code, _, _ := vfb(append(g, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// promtoolCheck lints a scrape as 'promtool check metrics' does: promtool
// runs client_golang's promlint on it, so the test needs no Prometheus
// install to hold the format.
func promtoolCheck(t *testing.T, metrics string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(metrics)).Lint()
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint (promtool check metrics): %v %+v", err, problems)
	}
}

func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		t.Fatal("no JSON lines")
	}
	return out
}

// A watcher refused for a PF that was never up, or for an interface that
// does not exist, makes nothing: the state directory it was given does not
// appear.
func TestCLIWatchRefusalMakesNothing(t *testing.T) {
	t.Parallel()
	root, state := simHost(t)
	for _, c := range []struct{ pf, want string }{
		{"eth3", "not up"},
		{"eth9", "no such network interface"},
	} {
		code, _, e := vfb("--host-root", root, "--state-dir", state, "watch", c.pf)
		if code != 2 || !strings.Contains(e, c.want) {
			t.Errorf("watch %s: exit %d, %q; want exit 2 saying %q", c.pf, code, e, c.want)
		}
		if _, err := os.Lstat(state); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("watch %s left the state directory %s behind (%v)", c.pf, state, err)
		}
	}
}
