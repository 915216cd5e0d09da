package run

import (
	"strings"
	"testing"
	"time"

	"golava/pkg/logfmt"
)

// TestConsoleLongLines: a long line is logged whole; one beyond LAVA's
// record limit becomes "<line way too long ...>", and the lines around it
// are intact.
func TestConsoleLongLines(t *testing.T) {
	t.Parallel()
	rec := newRecorder()
	c := &Console{log: NewLogger(rec), notify: make(chan struct{}, 1)}
	c.idle = time.AfterFunc(time.Hour, func() {})
	c.idle.Stop()
	long := strings.Repeat("x", 200<<10)
	c.feed([]byte("before\r\n" + long + "\r\n"))
	huge := []byte(strings.Repeat("y", 64<<10))
	for range 20 { // 1.25 MB without a newline, fed in chunks
		c.feed(huge)
	}
	c.feed([]byte("\r\nafter\r\n"))
	got := rec.waitTargets(t, 4)
	if len(got) != 4 || got[0] != "before" || got[1] != long || got[2] != lineTooLong || got[3] != "after" {
		t.Fatalf("targets: %d lines, third %.40q", len(got), got[min(2, len(got)-1)])
	}

	// A message whose encoding passes the limit (escapes grow it) is replaced too.
	l := NewLogger(rec)
	l.Debugf("%s", strings.Repeat("\x01", maxRecord/4))
	l.Results(map[string]any{"case": "big", "extra": strings.Repeat("z", maxRecord)})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	last := rec.recs[len(rec.recs)-2:]
	if last[0].Msg != lineTooLong {
		t.Errorf("debug record: %.40v", last[0].Msg)
	}
	if m, ok := last[1].Msg.(map[string]any); !ok || m["skip"] != "line way too long ..." || last[1].Lvl != logfmt.LevelResults {
		t.Errorf("results record: %.60v", last[1].Msg)
	}
}
