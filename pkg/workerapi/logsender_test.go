package workerapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLogServer stores lines like the real server: it skips the first
// stored-index lines of a request, and it can fail before or after storing.
type fakeLogServer struct {
	mu       sync.Mutex
	lines    []string
	requests int
	// fail decides, per request number, whether to fail before storing
	// ("before"), after storing ("after"), or not at all ("").
	fail func(n int) string
	bad  []string // protocol violations seen
	// hold makes every request fail while set.
	hold bool
}

func (f *fakeLogServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.URL.Path != "/scheduler/internal/v1/jobs/12/logs/" || r.Header.Get("LAVA-Token") != "tok" ||
		r.Header.Get("User-Agent") != "lava 2023.01" {
		f.bad = append(f.bad, fmt.Sprintf("%s %v", r.URL.Path, r.Header))
		http.Error(w, `{"error": "bad"}`, http.StatusBadRequest)
		return
	}
	mode := ""
	if f.hold {
		mode = "before"
	} else if f.fail != nil {
		mode = f.fail(f.requests)
	}
	if mode == "before" {
		http.Error(w, `{"error": "down"}`, http.StatusServiceUnavailable)
		return
	}
	index, err := strconv.Atoi(r.FormValue("index"))
	raw := r.FormValue("lines")
	if err != nil || !strings.HasPrefix(raw, "- ") {
		f.bad = append(f.bad, "bad form")
		http.Error(w, `{"error": "Invalid 'index'"}`, http.StatusBadRequest)
		return
	}
	recs := strings.Split(raw[2:], "\n- ")
	if len(recs) > MaxLinesPerPost {
		f.bad = append(f.bad, fmt.Sprintf("%d lines in one post", len(recs)))
	}
	skip := len(f.lines) - index
	if skip < 0 {
		f.bad = append(f.bad, fmt.Sprintf("gap: stored %d index %d", len(f.lines), index))
		skip = 0
	}
	if skip < len(recs) {
		f.lines = append(f.lines, recs[skip:]...)
	}
	if mode == "after" {
		http.Error(w, `{"error": "lost reply"}`, http.StatusBadGateway)
		return
	}
	fmt.Fprintf(w, `{"line_count": %d}`, len(recs))
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		count int
		fail  func(n int) string
		spool bool
	}{
		{"healthy", 2500, nil, false},
		{"fails before storing", 2300, func(n int) string {
			if n%3 == 1 {
				return "before"
			}
			return ""
		}, false},
		{"reply lost after storing", 2100, func(n int) string {
			if n%2 == 1 {
				return "after"
			}
			return ""
		}, false},
		{"few lines", 3, nil, false},
		{"spooled to disk", 7500, func(n int) string {
			if n%4 == 1 {
				return "after"
			}
			return ""
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &fakeLogServer{fail: tt.fail, hold: tt.spool}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			cfg := LogSenderConfig{
				URL: srv.URL + "/", JobID: "12", Token: "tok",
				Interval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
			}
			spoolDir := t.TempDir()
			if tt.spool {
				cfg.SpoolDir, cfg.MemoryRecords = spoolDir, 1000
			}
			s := NewLogSender(cfg)
			want := make([]string, tt.count)
			for i := range want {
				want[i] = fmt.Sprintf(`{"dt": "x", "lvl": "info", "msg": "line %d"}`, i)
				s.Send(want[i])
			}
			if tt.spool {
				s.mu.Lock()
				mem, spooled := s.memCount(), s.spool.count()
				s.mu.Unlock()
				if mem > 1000 || spooled != len(want)-mem {
					t.Fatalf("memory %d, spooled %d of %d", mem, spooled, len(want))
				}
				fake.mu.Lock()
				fake.hold = false
				fake.mu.Unlock()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				t.Fatal(err)
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if len(fake.bad) > 0 {
				t.Fatalf("protocol violations: %v", fake.bad)
			}
			if len(fake.lines) != len(want) {
				t.Fatalf("server stored %d lines, want %d", len(fake.lines), len(want))
			}
			for i := range want {
				if fake.lines[i] != want[i] {
					t.Fatalf("line %d = %q, want %q", i, fake.lines[i], want[i])
				}
			}
			if got := s.Acknowledged(); got != len(want) {
				t.Errorf("Acknowledged = %d", got)
			}
			if left, _ := os.ReadDir(spoolDir); len(left) != 0 {
				t.Errorf("spool left behind: %v", left)
			}
		})
	}
}

func TestLogSenderCloseDeadline(t *testing.T) {
	t.Parallel()
	fake := &fakeLogServer{fail: func(int) string { return "before" }}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	s := NewLogSender(LogSenderConfig{URL: srv.URL, JobID: "12", Token: "tok",
		Interval: time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	s.Send("a")
	s.Send("b")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := s.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "2 records not acknowledged") {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(context.Background()); err == nil {
		t.Fatal("second Close should report the same loss")
	}
}
