//go:build cgo && !nodpdk

package rxcmd

import (
	"bufio"
	"encoding/json"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vfbypass/vfbypass/internal/netnstest"
	"github.com/vfbypass/vfbypass/internal/simtest"
)

const pmds = "/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0"

func needPMD(t *testing.T, lib string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("DPDK runs need root")
	}
	if _, err := os.Stat(pmds + "/" + lib + ".so"); err != nil {
		t.Skipf("no %s PMD: %v", lib, err)
	}
}

// rxStart starts the CLI in a child (through prefix, e.g. ip netns exec)
// and returns it with its stderr, read up to the line that starts with
// "rx: receiving on" (the lines before it are in head).
func rxStart(t *testing.T, prefix []string, args ...string) (cmd *exec.Cmd, stdout io.Reader, head string) {
	t.Helper()
	b, _ := json.Marshal(args)
	argv := append(append([]string{}, prefix...), os.Args[0])
	cmd = exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), rxCLIChild+"="+string(b))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errp, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(errp)
	var all strings.Builder
	for sc.Scan() {
		all.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "rx: receiving on") {
			go func() { _, _ = io.Copy(io.Discard, errp) }()
			return cmd, out, all.String()
		}
	}
	t.Fatalf("the receive loop never started:\n%s", all.String())
	return nil, nil, ""
}

// TestRxCLIMetricsAndJSONLOnNullVdev scrapes /metrics while a net_null run
// goes on and reads its -o jsonl lines: the counters grow over the run,
// the rate is that of an interval, and every line is one JSON object, the
// last one the summary. On a loaded machine the polling lcore can be
// starved for an interval (no packets in it), so packets are counted over
// the run, not per interval: scrapes go on until one shows the counter
// grown, and the intervals together must have received some.
func TestRxCLIMetricsAndJSONLOnNullVdev(t *testing.T) {
	needPMD(t, "librte_net_null")
	prefix := "vfbclim" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmd, stdout, head := rxStart(t, nil, "-o", "jsonl", "--vdev", "net_null0", "--no-huge", "--duration", "4s", "--interval", "500ms",
		"--metrics-addr", "127.0.0.1:0", "--file-prefix", prefix, "--", "--log-level", "*:warning")
	m := regexp.MustCompile(`rx: metrics at (http://\S+/metrics)`).FindStringSubmatch(head)
	if m == nil {
		t.Fatalf("no metrics address on stderr:\n%s", head)
	}
	lines := make(chan []string, 1)
	go func() {
		var ls []string
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			ls = append(ls, sc.Text())
		}
		lines <- ls
	}()
	time.Sleep(1200 * time.Millisecond)
	q := `{device="net_null0",pf="",queue="0",vf=""}`
	first := scrapeMetrics(t, m[1])
	var second map[string]float64
	for deadline := time.Now().Add(2 * time.Second); ; {
		time.Sleep(200 * time.Millisecond)
		second = scrapeMetrics(t, m[1])
		if second["vfbypass_rx_packets_total"+q] > first["vfbypass_rx_packets_total"+q] && second["vfbypass_rx_packets_per_second"+q] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("packets_total did not grow (with a rate) in 2 s of scrapes: %v, last %v", first, second)
		}
	}
	if math.Abs(second["vfbypass_rx_bytes_per_second"+q]-64*second["vfbypass_rx_packets_per_second"+q]) > 1e-6*second["vfbypass_rx_bytes_per_second"+q] ||
		second[`vfbypass_rx_interval_seconds{device="net_null0",pf="",vf=""}`] <= 0 ||
		second[`vfbypass_rx_info{device="net_null0",driver="net_null",mode="vdev",pf="",vf=""}`] != 1 {
		t.Fatalf("second scrape: %v", second)
	}
	for _, k := range []string{"vfbypass_rx_bytes_total" + q, `vfbypass_rx_missed_total{device="net_null0",pf="",vf=""}`, `vfbypass_rx_errors_total{device="net_null0",pf="",vf=""}`} {
		if _, ok := second[k]; !ok {
			t.Errorf("scrape lacks %s", k)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rx: %v", err)
	}
	ls := <-lines
	if len(ls) < 3 {
		t.Fatalf("%d jsonl lines for 4s at 500ms:\n%s", len(ls), strings.Join(ls, "\n"))
	}
	var sum uint64
	for i, l := range ls {
		var v struct {
			Type    string  `json:"type"`
			Time    string  `json:"time"`
			Packets uint64  `json:"packets"`
			PPS     float64 `json:"pps"`
			IntS    float64 `json:"interval_s"`
		}
		var keys map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil || json.Unmarshal([]byte(l), &keys) != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, l)
		}
		if _, err := time.Parse(time.RFC3339Nano, v.Time); err != nil {
			t.Fatalf("line %d: time %q: %v", i+1, v.Time, err)
		}
		for _, k := range []string{"changed", "diff", "vfs"} {
			if _, ok := keys[k]; ok {
				t.Fatalf("line %d carries the control plane's %q: %s", i+1, k, l)
			}
		}
		want := "interval"
		if i == len(ls)-1 {
			want = "summary"
		}
		if v.Type != want {
			t.Fatalf("line %d type %q, want %q", i+1, v.Type, want)
		}
		if want == "interval" {
			if v.IntS <= 0 || v.IntS > 5 || (v.Packets == 0) != (v.PPS == 0) || v.PPS < 0 {
				t.Fatalf("interval line %d: %s", i+1, l)
			}
			sum += v.Packets
		} else if v.Packets < sum {
			t.Fatalf("summary counts %d packets, the intervals %d", v.Packets, sum)
		}
	}
	if sum == 0 {
		t.Fatalf("no interval of the run received a packet:\n%s", strings.Join(ls, "\n"))
	}
	t.Logf("%d jsonl lines; scrapes %.0f then %.0f packets", len(ls), first["vfbypass_rx_packets_total"+q], second["vfbypass_rx_packets_total"+q])
}

// scrapeMetrics GETs url and returns its samples by name and labels.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	body := simtest.Scrape(t, url)
	out := map[string]float64{}
	for _, l := range strings.Split(body, "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// TestRxCLIQueueModeOnVeth receives from queue 0 of a veth through
// `rx --pf VETH --queue 0` (net_af_xdp): exactly the datagrams sent, all
// matching the flow, and the result says the socket runs in copy mode
// (veth has no zero-copy AF_XDP) with the XDP program attached natively.
// The sender is paced by the -o jsonl lines (every 100 ms).
func TestRxCLIQueueModeOnVeth(t *testing.T) {
	needPMD(t, "librte_net_af_xdp")
	const n = 20000
	ns := netnstest.New(t)
	ns.Run(`ip link add vfbq0 type veth peer name vfbq1 &&
		sysctl -qw net.ipv6.conf.vfbq0.disable_ipv6=1 net.ipv6.conf.vfbq1.disable_ipv6=1 &&
		ip addr add 10.76.0.1/24 dev vfbq0 && ip link set vfbq0 up && ip link set vfbq1 up &&
		ip neigh replace 10.76.0.2 lladdr $(cat /sys/class/net/vfbq1/address) dev vfbq0 nud permanent`)
	prefix := "vfbcliq" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { os.RemoveAll("/var/run/dpdk/" + prefix) })
	cmd, stdout, head := rxStart(t, []string{"ip", "netns", "exec", ns.Name}, "-o", "jsonl", "--interval", "100ms", "--pf", "vfbq1", "--queue", "0",
		"--match", "udp dst-ip 10.76.0.2 dst-port 9999", "--duration", "60s", "--file-prefix", prefix, "--", "--log-level", "*:warning")
	if !strings.Contains(head, "AF_XDP copy mode (XDP program native)") {
		t.Errorf("start line does not say the mode:\n%s", head)
	}
	var counted atomic.Uint64
	last := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var l string
		for sc.Scan() {
			l = sc.Text()
			var iv struct {
				Type    string `json:"type"`
				Packets uint64 `json:"packets"`
			}
			if json.Unmarshal([]byte(l), &iv) == nil && iv.Type == "interval" {
				counted.Add(iv.Packets)
			}
		}
		last <- l
	}()
	ns.SendUDP(&net.UDPAddr{IP: net.IPv4(10, 76, 0, 2), Port: 9999}, n, 100, 1024, counted.Load)
	time.Sleep(200 * time.Millisecond) // anything beyond n would show
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	out := <-last
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rx: %v\n%s", err, out)
	}
	var r struct {
		Type      string   `json:"type"`
		StoppedBy string   `json:"stopped_by"`
		PF        string   `json:"pf"`
		Driver    string   `json:"driver"`
		Packets   uint64   `json:"packets"`
		Bytes     uint64   `json:"bytes"`
		EALArgs   []string `json:"eal_args"`
		Match     struct {
			Packets uint64 `json:"packets"`
		} `json:"match"`
		AFXDP struct {
			Iface    string `json:"iface"`
			Queue    int    `json:"queue"`
			Sockets  int    `json:"sockets"`
			ZeroCopy bool   `json:"zero_copy"`
			XDPMode  string `json:"xdp_mode"`
			How      string `json:"how"`
		} `json:"af_xdp"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Type != "summary" || r.StoppedBy != "signal" {
		t.Fatalf("last line is not the summary (%v):\n%s", err, out)
	}
	if r.PF != "vfbq1" || r.Driver != "net_af_xdp" || r.Packets != n || r.Match.Packets != n || r.Bytes != n*142 {
		t.Fatalf("counted %d packets (%d matching), %d bytes; want exactly %d of 142 bytes:\n%s", r.Packets, r.Match.Packets, r.Bytes, n, out)
	}
	if r.AFXDP.Iface != "vfbq1" || r.AFXDP.Queue != 0 || r.AFXDP.Sockets != 1 || r.AFXDP.ZeroCopy || r.AFXDP.XDPMode != "native" || !strings.Contains(r.AFXDP.How, "XDP_OPTIONS") {
		t.Fatalf("af_xdp %+v", r.AFXDP)
	}
	if !strings.Contains(strings.Join(r.EALArgs, " "), "--vdev net_af_xdp0,iface=vfbq1,start_queue=0,queue_count=1") {
		t.Fatalf("EAL args %q", r.EALArgs)
	}
	t.Logf("rx --pf vfbq1 --queue 0: exactly %d packets, AF_XDP copy mode, XDP %s", r.Packets, r.AFXDP.XDPMode)
}
