// Package workerapi owns the LAVA 2023.01 worker protocol under
// /scheduler/internal/v1/: its paths, form fields and JSON replies, and the
// HTTP client lava-worker and lava-run use to speak it.
package workerapi
