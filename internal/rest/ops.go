package rest

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sharedcare/sharedcare/internal/store"
)

func newBundleID() string { return uuid.NewString() }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 only when the database is reachable and migrated, so
// that a load balancer sends no traffic to a replica that cannot serve it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: database unreachable or schema not current\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// metrics holds the server's Prometheus collectors, in a registry of its own
// so that several servers can live in one test process.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// poolStatser is implemented by stores that have a connection pool.
type poolStatser interface{ Stats() store.PoolStats }

func newMetrics(st store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sharedcare_http_requests_total",
			Help: "HTTP requests by FHIR interaction and status code.",
		}, []string{"interaction", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sharedcare_http_request_duration_seconds",
			Help:    "HTTP request latency by FHIR interaction.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"interaction"}),
	}
	m.reg.MustRegister(m.requests, m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ps, ok := st.(poolStatser); ok {
		gauge := func(name, help string, f func(store.PoolStats) float64) {
			m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
				func() float64 { return f(ps.Stats()) }))
		}
		gauge("sharedcare_db_pool_connections", "Open database connections.", func(s store.PoolStats) float64 { return float64(s.Total) })
		gauge("sharedcare_db_pool_connections_in_use", "Database connections in use.", func(s store.PoolStats) float64 { return float64(s.InUse) })
		gauge("sharedcare_db_pool_connections_idle", "Idle database connections.", func(s store.PoolStats) float64 { return float64(s.Idle) })
		gauge("sharedcare_db_pool_connections_max", "Largest number of database connections.", func(s store.PoolStats) float64 { return float64(s.Max) })
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "sharedcare_db_pool_wait_total", Help: "Connection acquisitions that had to wait.",
		}, func() float64 { return float64(ps.Stats().WaitCount) }))
	}
	return m
}

func (m *metrics) observe(interaction string, status int, d time.Duration) {
	m.requests.WithLabelValues(interaction, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(interaction).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (s *Server) smartConfiguration(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(s.smart)
	return err
}

func (s *Server) devKeySet(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, err := w.Write(s.devJWKS)
	return err
}
