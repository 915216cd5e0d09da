// Package lab is lava-lab, the embedded default: one process that starts (or
// reuses) a private PostgreSQL cluster and runs the server, scheduler,
// publisher, coordinator, a worker and simulated boards on one machine.
package lab
