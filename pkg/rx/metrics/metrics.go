// Package metrics turns the counters of a running receive loop (package rx)
// into rates over an interval and into Prometheus metrics. It holds no
// DPDK code: the command samples the loop and hands the samples over.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vfbypass/vfbypass/pkg/rx"
)

// Sample is the loop's counters at one moment.
type Sample struct {
	Time   time.Time
	Queues []rx.QueueCounters
	Port   rx.PortStats
	// Restarts counts the port's restarts (rx.Port.Restarts).
	Restarts uint64
}

// QueueRate is one queue's traffic over an interval.
type QueueRate struct {
	Queue   int     `json:"queue"`
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	PPS     float64 `json:"pps"`
	Mbps    float64 `json:"mbps"`
}

// Interval is the traffic between two samples: what each queue and the port
// received, dropped and refused, and the rates.
type Interval struct {
	Seconds float64 `json:"interval_s"`
	Packets uint64  `json:"packets"`
	Bytes   uint64  `json:"bytes"`
	PPS     float64 `json:"pps"`
	Mbps    float64 `json:"mbps"`
	// Missed, Errors and NoMbuf are the port's imissed, ierrors and
	// rx_nombuf over the interval (DPDK counts them per port).
	Missed       uint64      `json:"missed"`
	Errors       uint64      `json:"errors"`
	NoMbuf       uint64      `json:"nombuf"`
	MatchPackets uint64      `json:"match_packets"`
	Queues       []QueueRate `json:"queues"`
}

// Between is the traffic from a to b (b later, same queues).
func Between(a, b Sample) Interval {
	iv := Interval{Seconds: b.Time.Sub(a.Time).Seconds(), Queues: make([]QueueRate, len(b.Queues))}
	for i, q := range b.Queues {
		var prev rx.QueueCounters
		if i < len(a.Queues) {
			prev = a.Queues[i]
		}
		r := QueueRate{Queue: q.Queue, Packets: q.Packets - prev.Packets, Bytes: q.Bytes - prev.Bytes}
		r.PPS, r.Mbps = rates(r.Packets, r.Bytes, iv.Seconds)
		iv.Queues[i] = r
		iv.Packets += r.Packets
		iv.Bytes += r.Bytes
		iv.MatchPackets += q.MatchPackets - prev.MatchPackets
	}
	iv.PPS, iv.Mbps = rates(iv.Packets, iv.Bytes, iv.Seconds)
	iv.Missed = b.Port.IMissed - a.Port.IMissed
	iv.Errors = b.Port.IErrors - a.Port.IErrors
	iv.NoMbuf = b.Port.RxNoMbuf - a.Port.RxNoMbuf
	return iv
}

func rates(packets, bytes uint64, secs float64) (pps, mbps float64) {
	if secs <= 0 {
		return 0, 0
	}
	return float64(packets) / secs, float64(bytes) * 8 / secs / 1e6
}

// Exporter serves a loop's counters as Prometheus metrics. Counters are
// read fresh at each scrape (read); the rates are those of the last
// interval the command reported with Observe.
type Exporter struct {
	l    Labels
	read func() (Sample, error)

	mu   sync.Mutex
	last Interval
	seen bool

	packets, bytes, match, pps, bps     *prometheus.Desc
	missed, errors, nombuf, info, ratep *prometheus.Desc
	build, restarts                     *prometheus.Desc
}

// Labels say what an exporter's metrics describe: every metric carries
// device, pf and vf (pf and vf empty when the device was not named by
// them); vfbypass_rx_info has the driver and the receive mode (e.g.
// "AF_XDP copy", "vfio-pci"), vfbypass_rx_build_info the build.
type Labels struct {
	Device, PF, VF string
	Driver, Mode   string
	Build          Build
}

// Build is the receive loop's build, for vfbypass_rx_build_info.
type Build struct {
	Version, Commit, GoVersion, DPDK string
}

// NewExporter exports the counters read returns, labelled by l.
func NewExporter(l Labels, read func() (Sample, error)) *Exporter {
	q := []string{"queue"}
	c := prometheus.Labels{"device": l.Device, "pf": l.PF, "vf": l.VF}
	d := func(name, help string, v []string) *prometheus.Desc {
		return prometheus.NewDesc("vfbypass_rx_"+name, help, v, c)
	}
	return &Exporter{
		l:        l,
		read:     read,
		packets:  d("packets_total", "Packets the receive loop took from the RX queue.", q),
		bytes:    d("bytes_total", "Bytes (mbuf packet lengths, without CRC) the loop took from the RX queue.", q),
		match:    d("match_packets_total", "Packets of the --match flow.", q),
		pps:      d("packets_per_second", "Packets per second over the last interval.", q),
		bps:      d("bytes_per_second", "Bytes (without CRC) per second over the last interval.", q),
		missed:   d("missed_total", "Packets the NIC dropped for lack of a free descriptor (ethdev imissed, per port).", nil),
		errors:   d("errors_total", "Erroneous received packets (ethdev ierrors, per port).", nil),
		nombuf:   d("nombuf_total", "RX mbuf allocation failures (ethdev rx_nombuf, per port).", nil),
		restarts: d("port_restarts_total", "Restarts of the port after its device was reset under the loop (a PF reset stops a VF's receive until the VF resets).", nil),
		ratep:    d("interval_seconds", "Length of the interval the rates cover.", nil),
		info:     d("info", "The device received on: its PMD and receive mode.", []string{"driver", "mode"}),
		build: prometheus.NewDesc("vfbypass_rx_build_info", "The build of vfbypass-rx and the DPDK it runs with.",
			[]string{"version", "commit", "goversion", "dpdk"}, nil),
	}
}

// Observe records the last interval's rates.
func (x *Exporter) Observe(iv Interval) {
	x.mu.Lock()
	x.last, x.seen = iv, true
	x.mu.Unlock()
}

// Describe sends the metrics' descriptions.
func (x *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{x.packets, x.bytes, x.match, x.pps, x.bps, x.missed, x.errors, x.nombuf, x.restarts, x.ratep, x.info, x.build} {
		ch <- d
	}
}

// Collect reads the counters and sends the metrics.
func (x *Exporter) Collect(ch chan<- prometheus.Metric) {
	s, err := x.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(x.packets, err)
		return
	}
	x.mu.Lock()
	last, seen := x.last, x.seen
	x.mu.Unlock()
	for i, q := range s.Queues {
		l := strconv.Itoa(q.Queue)
		ch <- prometheus.MustNewConstMetric(x.packets, prometheus.CounterValue, float64(q.Packets), l)
		ch <- prometheus.MustNewConstMetric(x.bytes, prometheus.CounterValue, float64(q.Bytes), l)
		ch <- prometheus.MustNewConstMetric(x.match, prometheus.CounterValue, float64(q.MatchPackets), l)
		var pps, bps float64
		if seen && i < len(last.Queues) && last.Seconds > 0 {
			pps, bps = last.Queues[i].PPS, float64(last.Queues[i].Bytes)/last.Seconds
		}
		ch <- prometheus.MustNewConstMetric(x.pps, prometheus.GaugeValue, pps, l)
		ch <- prometheus.MustNewConstMetric(x.bps, prometheus.GaugeValue, bps, l)
	}
	ch <- prometheus.MustNewConstMetric(x.missed, prometheus.CounterValue, float64(s.Port.IMissed))
	ch <- prometheus.MustNewConstMetric(x.errors, prometheus.CounterValue, float64(s.Port.IErrors))
	ch <- prometheus.MustNewConstMetric(x.nombuf, prometheus.CounterValue, float64(s.Port.RxNoMbuf))
	ch <- prometheus.MustNewConstMetric(x.restarts, prometheus.CounterValue, float64(s.Restarts))
	ch <- prometheus.MustNewConstMetric(x.ratep, prometheus.GaugeValue, last.Seconds)
	ch <- prometheus.MustNewConstMetric(x.info, prometheus.GaugeValue, 1, x.l.Driver, x.l.Mode)
	b := x.l.Build
	ch <- prometheus.MustNewConstMetric(x.build, prometheus.GaugeValue, 1, b.Version, b.Commit, b.GoVersion, b.DPDK)
}

// Handler serves the exporter's metrics (and nothing else: no Go runtime
// metrics) in Prometheus text format.
func (x *Exporter) Handler() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(x); err != nil {
		return nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}), nil
}
