// Package dutsim owns the simulated device under test: a board behind two unix
// sockets (power control and a serial console) that boots a U-Boot-like
// bootloader and Linux-like kernel output, then serves a real /bin/sh on a pty.
package dutsim
