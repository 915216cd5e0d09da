package notifytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Hook is one POST a WebhookSink received.
type Hook struct {
	Path   string
	Header http.Header
	Body   []byte
	Status int // what the sink answered
}

// WebhookSink is an HTTP receiver on 127.0.0.1 for tests: it records every
// request in Hits and answers with the next of the queued statuses (200
// once they run out), so a test can make the first tries fail.
type WebhookSink struct {
	URL  string
	Hits chan Hook

	mu     sync.Mutex
	fail   []int
	counts map[string]int
}

// StartWebhookSink starts a sink answering fail[0], fail[1]... then 200;
// stopped when the test ends.
func StartWebhookSink(t testing.TB, fail ...int) *WebhookSink {
	t.Helper()
	s := &WebhookSink{Hits: make(chan Hook, 1000), fail: fail, counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		s.mu.Lock()
		status := http.StatusOK
		if len(s.fail) > 0 {
			status, s.fail = s.fail[0], s.fail[1:]
		}
		s.counts[r.URL.Path]++
		s.mu.Unlock()
		s.Hits <- Hook{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Status: status}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Count is how many requests reached path.
func (s *WebhookSink) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}
