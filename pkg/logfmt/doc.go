// Package logfmt owns the LAVA job log line format: one YAML flow mapping per
// line, {"dt": ..., "lvl": ..., "msg": ...}, as lava-run writes and the server
// stores and serves. Encoding is byte-stable; decoding accepts what LAVA writes.
package logfmt
