// Package store owns every SQL statement of golava: the PostgreSQL schema's
// tables, the state transitions of jobs, devices and workers (checked in one
// place), the events outbox, and the log chunk store.
package store
