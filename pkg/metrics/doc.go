// Package metrics is what every golava process shares to be operated: a
// Prometheus registry with the Go and process collectors, the /metrics,
// /healthz and /readyz endpoints and their listener (--metrics-listen), and
// the lava-run metrics file the worker turns into its own metrics.
package metrics
