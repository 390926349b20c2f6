package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/example/mposportal/payments"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts requests by route pattern (never by raw path: ids would explode the series),
// the gateway's callbacks by outcome, and the open live sockets.
type metrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	callbacks *prometheus.CounterVec
}

// callbackOutcomes are the outcomes gatewayCallback answers with (the callback log's words).
var callbackOutcomes = []string{
	string(payments.CallbackApplied), string(payments.CallbackDuplicate), string(payments.CallbackConflict),
	string(payments.CallbackUnknown), string(payments.CallbackNotWaiting),
	"forged", "mismatch", "unknown_endpoint", "error", "throttled",
}

func newMetrics(d Deps) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_http_requests_total",
			Help: "HTTP requests by method, route and status."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "portal_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.DefBuckets}, []string{"route"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "portal_callbacks_total",
			Help: "Gateway callbacks by outcome (as in the callback log; throttled ones are not logged)."}, []string{"outcome"}),
	}
	for _, o := range callbackOutcomes {
		m.callbacks.WithLabelValues(o) // from zero, so that rate() sees the first one
	}
	d.Metrics.MustRegister(m.requests, m.duration, m.callbacks)
	sockets := func(kind string, count func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "portal_live_sockets", ConstLabels: prometheus.Labels{"kind": kind},
			Help: "Open websockets on this instance: browser screens and readers' device channels."},
			func() float64 { return float64(count()) })
	}
	d.Metrics.MustRegister(sockets("browser", d.Hub.Clients), sockets("reader", d.Devices.Link.Count))
	return m
}

// observe records metrics and writes the access log line: server errors at error level,
// everything else at info; the query string is left out because callbacks carry signatures.
func observe(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		d := time.Since(start)
		method := methodLabel(c.Request.Method)
		m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(route).Observe(d.Seconds())
		if strings.HasPrefix(route, "/static/") || route == "/healthz" || route == "/metrics" {
			return
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.Log(c.Request.Context(), level, "http", "method", method, "path", truncate(c.Request.URL.Path, 200),
			"status", status, "duration_ms", d.Milliseconds(), "ip", c.ClientIP())
	}
}

// methodLabel is a request's method for metrics and logs: anyone can send any method name, so
// only the standard ones are kept and the rest count as "other" (a bounded label set).
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// truncate keeps at most n bytes of s for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
