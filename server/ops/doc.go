// Package ops owns what a lab admin needs to run golava for years: the
// database metrics collector (jobs, queues, devices, workers), the
// retention policies the scheduler leader applies, and dump/restore.
package ops
