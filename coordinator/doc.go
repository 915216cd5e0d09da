// Package coordinator owns LAVA's MultiNode coordinator: the TCP server that
// lets the jobs of one MultiNode group exchange messages (send, wait, sync),
// its length-prefixed JSON framing, its state file, and the client lava-run uses.
package coordinator
