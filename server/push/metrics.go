package push

import "github.com/prometheus/client_golang/prometheus"

// Collectors are the Prometheus metrics of this node's pushes, read from
// the Pusher's counters at scrape time.
func (p *Pusher) Collectors() []prometheus.Collector {
	counter := func(name, help string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	return []prometheus.Collector{
		counter("minichat_push_sent_total", "Pushes a push service accepted from this node.", p.sent.Load),
		counter("minichat_push_retried_total", "Pushes answered 429, 5xx or not at all, to be tried again.", p.retried.Load),
		counter("minichat_push_failed_total", "Pushes dropped: refused for good, or out of attempts.", p.failed.Load),
		counter("minichat_push_gone_total", "Subscriptions removed because their push service answered 404 or 410.", p.gone.Load),
		counter("minichat_push_plan_dropped_total", "Committed batches whose pushes were not planned because the planning queue was full.", p.dropped.Load),
	}
}
