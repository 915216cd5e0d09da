package dutsim

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when goroutines of this package (console readers,
// sessions, shell copiers, Console bridges) outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		code = checkGoroutines()
	}
	os.Exit(code)
}

func checkGoroutines() int {
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		leaked := leakedGoroutines()
		if len(leaked) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "goroutine leak: %d left running:\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			return 1
		}
		<-tick.C
	}
}

// leakedGoroutines returns the stacks that run or were created by this
// package, other than the checker's own.
func leakedGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "golava/worker/dutsim.") && !strings.Contains(g, "dutsim.leakedGoroutines") {
			leaked = append(leaked, g)
		}
	}
	return leaked
}
