// Package metrics exposes minichat's Prometheus metrics: sockets, messages
// received and delivered, slow-consumer closes, the store's commit latency
// and batch size, HTTP requests by route and status, and the Go runtime and
// process collectors.
//
// The hot paths stay free of Prometheus: the hub and the ws handler keep
// plain atomic counters that this package reads at scrape time (CounterFunc,
// GaugeFunc), the store reports each commit through a callback (one
// histogram observation per commit, not per message), and messages are
// counted once per commit from the committed events. No label carries user
// data: routes are chi patterns ("/api/rooms/{id}/messages"), never paths.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/ws"
)

// Metrics is the registry of one server. Create it with New before the
// store (whose Options take ObserveCommit and whose OnCommit goes through
// Committed), then Register the hub and the socket handler once they exist.
type Metrics struct {
	reg *prometheus.Registry

	received  atomic.Uint64 // chat messages committed, counted per commit
	commit    prometheus.Histogram
	batch     prometheus.Histogram
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec

	watch *commitWatch // WatchCommits; nil: none
}

// Hub is what the metrics read of the hub (a *hub.Hub): the room-log
// frames live fan-out has queued. It must be safe to call at any time.
type Hub interface{ Delivered() uint64 }

// Sockets is what the metrics read of the socket handler (a *ws.Handler):
// its counters, safe to read at any time.
type Sockets interface{ Stats() ws.Stats }

// New builds the registry with the collectors of the process, the store
// and HTTP; Register adds those of the hub and the sockets.
func New(version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "minichat_store_commit_seconds",
		Help:    "Time of one store write transaction (group commit), from begin to durable commit.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5},
	})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "minichat_store_commit_batch_size",
		Help:    "Writes carried by one store commit.",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024},
	})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "minichat_http_requests_total",
		Help: "HTTP requests by method, route pattern and status code (a WebSocket upgrade counts as 101).",
	}, []string{"method", "route", "code"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "minichat_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern (WebSocket upgrades excluded).",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"route"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.commit, m.batch, m.requests, m.durations,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "minichat_build_info",
			Help:        "Always 1; the version label names the running build.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minichat_messages_received_total",
			Help: "Chat messages accepted from clients and durably stored (WebSocket and HTTP; duplicates by client_id not counted).",
		}, func() float64 { return float64(m.received.Load()) }),
	)
	return m
}

// Register adds the collectors that read h and s at scrape time. Call it
// once, when both exist; a second call panics (the collectors would be
// registered twice).
func (m *Metrics) Register(h Hub, s Sockets) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minichat_messages_delivered_total",
			Help: "Room-log frames (messages, edits, deletes, reactions) queued to open sockets by live fan-out.",
		}, func() float64 { return float64(h.Delivered()) }),
		newSocketCollector(s),
	)
}

// RegisterStore adds the collectors of the database's availability, read
// from avail (store.Store.Availability) at scrape time. Call it once.
func (m *Metrics) RegisterStore(avail func() store.Availability) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "minichat_store_up",
			Help: "1 while the database answers, 0 from a write or read that could not reach it until one that could (writes are then refused with unavailable).",
		}, func() float64 {
			if !avail().Up {
				return 0
			}
			return 1
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "minichat_store_unavailable_total",
			Help: "Writes refused with unavailable because the database could not be reached.",
		}, func() float64 { return float64(avail().Refused) }),
	)
}

// RegisterBroker adds the gauge of the broker's connection, read from
// connected at scrape time (always true for a single node). Call it once.
func (m *Metrics) RegisterBroker(connected func() bool) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "minichat_broker_connected",
		Help: "1 while this node is connected to its broker (always 1 for a single node), 0 while NATS is unreachable.",
	}, func() float64 {
		if !connected() {
			return 0
		}
		return 1
	}))
}

// Registry is the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveCommit is store.Options.ObserveCommit.
func (m *Metrics) ObserveCommit(writes int, took time.Duration) {
	m.commit.Observe(took.Seconds())
	m.batch.Observe(float64(writes))
	if m.watch != nil {
		m.watch.observe(took)
	}
}

// Committed counts the chat messages among a commit's events; wrap
// store.Options.OnCommit with it. One pass over the events, no allocation.
func (m *Metrics) Committed(evs []store.Event) {
	var n uint64
	for i := range evs {
		if evs[i].Kind == store.EventMessage && evs[i].Message.Kind == protocol.KindChat {
			n++
		}
	}
	if n > 0 {
		m.received.Add(n)
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Instrument counts the requests next answers by method, route pattern and
// status. next must be a chi router (the route pattern is read from the
// routing context it fills in); requests it does not route are counted
// under the route "unmatched" (the web client and its assets).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// A routing context made here is the one chi fills in (it reuses
		// a context it finds), so the pattern can be read afterwards.
		rctx := chi.NewRouteContext()
		r = r.WithContext(contextWithRoute(r, rctx))
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusSwitchingProtocols // hijacked by the WebSocket upgrade
		}
		route := rctx.RoutePattern()
		if route == "" || route == "/*" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(method(r.Method), route, strconv.Itoa(status)).Inc()
		if status != http.StatusSwitchingProtocols {
			m.durations.WithLabelValues(route).Observe(time.Since(start).Seconds())
		}
	})
}

// method keeps the method label to the standard methods.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// newSocketCollector reports the socket handler's counters, read at
// scrape time.
func newSocketCollector(s Sockets) prometheus.Collector {
	return &socketCollector{s: s,
		open: prometheus.NewDesc("minichat_ws_connections", "WebSocket connections open now.", nil, nil),
		accepted: prometheus.NewDesc("minichat_ws_connections_accepted_total",
			"WebSocket connections accepted since start.", nil, nil),
		closed: prometheus.NewDesc("minichat_ws_connections_closed_total",
			"WebSocket connections closed, by close code (4429: too slow or flooding, 4408: heartbeat, 4401: signed out, 1001: shutdown).", []string{"code"}, nil),
		slow: prometheus.NewDesc("minichat_ws_send_queue_drops_total",
			"Connections closed (4429) because their send queue overflowed: clients too slow to read.", nil, nil),
	}
}

type socketCollector struct {
	s                            Sockets
	open, accepted, closed, slow *prometheus.Desc
}

func (c *socketCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.accepted
	ch <- c.closed
	ch <- c.slow
}

func (c *socketCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.Open))
	ch <- prometheus.MustNewConstMetric(c.accepted, prometheus.CounterValue, float64(s.Accepted))
	ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(s.SlowClosed))
	for code, n := range s.Closed {
		ch <- prometheus.MustNewConstMetric(c.closed, prometheus.CounterValue, float64(n), code)
	}
}

func contextWithRoute(r *http.Request, rctx *chi.Context) context.Context {
	return context.WithValue(r.Context(), chi.RouteCtxKey, rctx)
}
