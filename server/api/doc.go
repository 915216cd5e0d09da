// Package api owns lava-server's HTTP surface: the chi router, token auth,
// the REST API v0.2 and XML-RPC /RPC2 (rpc*.go) in LAVA's shapes, with
// object permissions (perms.go), and the worker API under
// /scheduler/internal/v1/ that lava-worker and lava-run speak.
package api
