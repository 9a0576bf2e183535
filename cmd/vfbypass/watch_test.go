package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/pkg/host"
	"github.com/vfbypass/vfbypass/pkg/hostsim"
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

// simReset does to the simulated PF what an ixgbe reset does (rules
// flushed, the RSS table back to the driver's default) and announces it
// on the event feed as a link down and up.
func simReset(t *testing.T, root string) {
	t.Helper()
	h, err := hostsim.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dev, err := h.Rules("eth3")
	if err != nil {
		t.Fatal(err)
	}
	locs, _, err := dev.RuleLocations()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range locs {
		if err := dev.Delete(l); err != nil {
			t.Fatal(err)
		}
	}
	dev.Close()
	if err := h.Ethtool.SetIndir("eth3", nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(root, hostsim.MarkerDir, "events.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, d := range []string{"down", "up"} {
		b, _ := json.Marshal(host.Event{Time: time.Now(), Link: "eth3", Kind: host.EventLink, Detail: d})
		if _, err := f.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
}

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
	simReset(t, root)
	start := time.Now()
	code := 4
	for time.Since(start) < 5*time.Second && code != 0 {
		code, _, _ = vfb(append(g, "status", "eth3", "--check")...)
	}
	if code != 0 {
		t.Fatalf("status --check still %d 5 s after the reset; watcher stderr:\n%s", code, stderr.String())
	}
	t.Logf("status --check clean %v after the reset", time.Since(start).Round(time.Millisecond))
	wants := []string{
		`vfbypass_watch_repairs_total{field="rule",pf="eth3",result="repaired"} 2`,
		`vfbypass_watch_repairs_total{field="rss.indir",pf="eth3",result="repaired"} 1`,
		`vfbypass_watch_drift_fields{pf="eth3"} 0`,
	}
	var metrics string
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		// The watcher counts a repair once it has read the drift again.
		if metrics = scrapeMetrics(t, "http://"+addr+"/metrics"); strings.Contains(metrics, wants[1]) {
			break
		}
	}
	for _, want := range wants {
		if !strings.Contains(metrics, want+"\n") {
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
	if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.PFs) != 1 || !st.PFs[0].Watcher.Running || len(st.PFs[0].Watcher.LastRepair.Fields) != 3 {
		t.Fatalf("status's watcher: %+v %v; want running, 3 fields repaired\n%s", st, err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch after SIGTERM: %v\n%s", err, stderr.String())
	}
	recs := jsonLines(t, stdout.String())
	var repaired []string
	for _, r := range recs {
		if r["result"] == "repaired" {
			repaired = append(repaired, r["field"].(string))
			if r["trigger"] != "event link down" || r["latency_ms"] == nil || r["want"] == nil {
				t.Errorf("record %v: want trigger, latency and want", r)
			}
		}
	}
	if len(repaired) != 3 {
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

func scrapeMetrics(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %v", url, r.StatusCode, err)
	}
	return string(b)
}

// promtoolCheck runs promtool check metrics on a scrape when promtool is
// installed (Debian's prometheus package).
func promtoolCheck(t *testing.T, metrics string) {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (apt-get install prometheus): the scrape's format is not linted")
		return
	}
	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = strings.NewReader(metrics)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
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
