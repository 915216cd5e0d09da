// Package runtest builds what tests of real boots need at test time: a
// busybox initramfs for QEMU and a git repository of test definitions.
// It is used by tests only.
package runtest
