// Package overlay owns the test overlay lava-run puts on the DUT: the
// helper scripts (lava-test-case, lava-test-runner...) written in POSIX sh,
// and one run.sh per test definition, packed as a tar.gz.
package overlay
