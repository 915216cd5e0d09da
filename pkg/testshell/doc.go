// Package testshell owns the test-shell protocol seen on a DUT console: it
// cleans console lines, recognises the <LAVA_SIGNAL_...> and
// <LAVA_TEST_RUNNER ...> markers and turns test case signals into results.
package testshell
