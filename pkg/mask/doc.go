// Package mask owns the hiding of secret values in text: log records,
// results, events and files that leave a job, on the worker and the server
// alike (it replaces each value by "[secret]"; it never sees where values come from).
package mask
