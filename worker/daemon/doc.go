// Package daemon is lava-worker: it registers a lab host with the server,
// pings it, runs one lava-run process per job it is given, cancels them, and
// reports how each ended, speaking LAVA 2023.01's worker protocol.
package daemon
