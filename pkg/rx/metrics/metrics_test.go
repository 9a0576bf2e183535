package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/vfbypass/vfbypass/pkg/rx"
)

func sample(t0 time.Time, secs int, q0, q1 uint64, missed uint64) Sample {
	return Sample{
		Time:   t0.Add(time.Duration(secs) * time.Second),
		Queues: []rx.QueueCounters{{Queue: 0, Packets: q0, Bytes: 64 * q0, MatchPackets: q0 / 2}, {Queue: 1, Packets: q1, Bytes: 100 * q1}},
		Port:   rx.PortStats{IPackets: q0 + q1, IMissed: missed, IErrors: 1},
	}
}

func TestBetween(t *testing.T) {
	t0 := time.Unix(1000, 0)
	iv := Between(sample(t0, 0, 100, 10, 5), sample(t0, 2, 2100, 410, 9))
	if iv.Seconds != 2 || iv.Packets != 2400 || iv.Bytes != 64*2000+100*400 || iv.PPS != 1200 || iv.Missed != 4 || iv.Errors != 0 || iv.MatchPackets != 1000 {
		t.Fatalf("interval %+v", iv)
	}
	if q := iv.Queues[1]; q.Queue != 1 || q.Packets != 400 || q.PPS != 200 || q.Mbps != 400*100*8/2/1e6 {
		t.Fatalf("queue 1 %+v", q)
	}
	if iv := Between(Sample{Time: t0}, sample(t0, 0, 1, 1, 0)); iv.PPS != 0 || iv.Packets != 2 {
		t.Fatalf("no time passed: %+v", iv)
	}
}

func TestExporterScrape(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cur := sample(t0, 1, 3000, 7, 2)
	cur.Restarts = 3
	x := NewExporter(Labels{Device: "net_null0", Driver: "net_null", Mode: "vdev", Build: Build{Version: "1.0.0", Commit: "abc", GoVersion: "go1.26", DPDK: "22.11.11"}}, func() (Sample, error) { return cur, nil })
	x.Observe(Between(sample(t0, 0, 1000, 7, 2), cur))
	h, err := x.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := scrape(t, srv.URL)
	for _, want := range []string{
		`vfbypass_rx_packets_total{device="net_null0",pf="",queue="0",vf=""} 3000`,
		`vfbypass_rx_packets_total{device="net_null0",pf="",queue="1",vf=""} 7`,
		`vfbypass_rx_bytes_total{device="net_null0",pf="",queue="0",vf=""} 192000`,
		`vfbypass_rx_match_packets_total{device="net_null0",pf="",queue="0",vf=""} 1500`,
		`vfbypass_rx_packets_per_second{device="net_null0",pf="",queue="0",vf=""} 2000`,
		`vfbypass_rx_packets_per_second{device="net_null0",pf="",queue="1",vf=""} 0`,
		`vfbypass_rx_bytes_per_second{device="net_null0",pf="",queue="0",vf=""} 128000`,
		`vfbypass_rx_build_info{commit="abc",dpdk="22.11.11",goversion="go1.26",version="1.0.0"} 1`,
		`vfbypass_rx_missed_total{device="net_null0",pf="",vf=""} 2`,
		`vfbypass_rx_errors_total{device="net_null0",pf="",vf=""} 1`,
		`vfbypass_rx_nombuf_total{device="net_null0",pf="",vf=""} 0`,
		`vfbypass_rx_port_restarts_total{device="net_null0",pf="",vf=""} 3`,
		"# TYPE vfbypass_rx_port_restarts_total counter",
		`vfbypass_rx_interval_seconds{device="net_null0",pf="",vf=""} 1`,
		`vfbypass_rx_info{device="net_null0",driver="net_null",mode="vdev",pf="",vf=""} 1`,
		"# TYPE vfbypass_rx_packets_total counter",
		"# TYPE vfbypass_rx_packets_per_second gauge",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("scrape lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "go_goroutines") {
		t.Errorf("scrape carries Go runtime metrics")
	}
	// What 'promtool check metrics' checks: promtool runs this linter
	// (promlint) on the scrape.
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint (promtool check metrics): %v %+v", err, problems)
	}
}

// TestExporterLabelsPFAndVF: a run on VF 0 of eth3 labels every metric
// with the PF and the VF.
func TestExporterLabelsPFAndVF(t *testing.T) {
	t0 := time.Unix(1000, 0)
	x := NewExporter(Labels{Device: "0000:04:10.1", PF: "eth3", VF: "0", Driver: "net_ixgbe_vf", Mode: "vfio-pci"}, func() (Sample, error) { return sample(t0, 1, 1, 1, 0), nil })
	h, err := x.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := scrape(t, srv.URL)
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "vfbypass_rx_") && !strings.HasPrefix(line, "vfbypass_rx_build_info") && (!strings.Contains(line, `pf="eth3"`) || !strings.Contains(line, `vf="0"`)) {
			t.Errorf("%q lacks the pf and vf labels", line)
		}
	}
}

func TestExporterReadFailure(t *testing.T) {
	x := NewExporter(Labels{Device: "p", Driver: "d", Mode: "m"}, func() (Sample, error) { return Sample{}, errors.New("port p: closed") })
	h, err := x.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// A scrape that cannot read the loop fails (Prometheus then records
	// up 0) and says why.
	if resp.StatusCode != 500 || !strings.Contains(string(b), "port p: closed") {
		t.Fatalf("status %d, body %q", resp.StatusCode, b)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
