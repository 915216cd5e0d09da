// Package admin holds what `lava-server` does besides serving requests:
// the serve loop itself (migrate, HTTP server, graceful shutdown) and the
// admin commands that add users, tokens, workers, device types and devices.
package admin
