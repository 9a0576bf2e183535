package watch

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vfbypass/vfbypass/internal/host"
)

// Metrics are the watcher's Prometheus metrics. A nil *Metrics counts
// nothing.
type Metrics struct {
	reg       *prometheus.Registry
	repairs   *prometheus.CounterVec
	events    *prometheus.CounterVec
	drift     prometheus.Gauge
	last      prometheus.Gauge
	duration  prometheus.Gauge
	reconcile prometheus.Counter
}

// BuildInfo labels vfbypass_watch_build_info.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// NewMetrics makes the metrics of a watcher of pf.
func NewMetrics(pf string, b BuildInfo) *Metrics {
	c := prometheus.Labels{"pf": pf}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vfbypass_watch_repairs_total", ConstLabels: c,
			Help: "Drifted fields the watcher handled, by field kind (rule, vf.mac, rss.indir...) and result (repaired, failed, unrepairable, backoff, held)."},
			[]string{"field", "result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vfbypass_watch_events_total", ConstLabels: c,
			Help: "Kernel notifications about the PF the watcher received, by kind."}, []string{"kind"}),
		drift: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vfbypass_watch_drift_fields", ConstLabels: c,
			Help: "Fields that differed from the journal's request after the last reconcile."}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vfbypass_watch_last_reconcile_timestamp_seconds", ConstLabels: c,
			Help: "When the last reconcile started (Unix time)."}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vfbypass_watch_last_reconcile_duration_seconds", ConstLabels: c,
			Help: "How long the last reconcile took, repair included."}),
		reconcile: prometheus.NewCounter(prometheus.CounterOpts{Name: "vfbypass_watch_reconciles_total", ConstLabels: c,
			Help: "Reconciles run (events, resyncs, retries)."}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "vfbypass_watch_build_info",
		Help:        "The build of the running watcher.",
		ConstLabels: prometheus.Labels{"pf": pf, "version": b.Version, "commit": b.Commit, "goversion": b.GoVersion}})
	info.Set(1)
	m.reg.MustRegister(m.repairs, m.events, m.drift, m.last, m.duration, m.reconcile, info)
	return m
}

// Handler serves the metrics (and no Go runtime metrics) in Prometheus
// text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

func (m *Metrics) event(k host.EventKind) {
	if m != nil {
		m.events.WithLabelValues(string(k)).Inc()
	}
}

func (m *Metrics) repair(field, result string) {
	if m != nil {
		m.repairs.WithLabelValues(fieldKind(field), result).Inc()
	}
}

func (m *Metrics) setDrift(n int) {
	if m != nil {
		m.drift.Set(float64(n))
	}
}

func (m *Metrics) reconciled(start time.Time, d time.Duration) {
	if m != nil {
		m.reconcile.Inc()
		m.last.Set(float64(start.UnixNano()) / 1e9)
		m.duration.Set(d.Seconds())
	}
}

// fieldKind is a drift field without its index, for a label of bounded
// cardinality: rule@2045 is rule, vf3.mac is vf.mac.
func fieldKind(f string) string {
	if strings.HasPrefix(f, "rule@") {
		return "rule"
	}
	if rest, ok := strings.CutPrefix(f, "vf"); ok {
		if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
			return "vf" + rest[i:]
		}
	}
	return f
}
