// Package pgcluster runs a private PostgreSQL cluster from the distribution's
// binaries: initdb on first use, postgres bound to 127.0.0.1 and a socket in
// its folder, and a fast shutdown. lava-lab and the test helper use it.
package pgcluster
