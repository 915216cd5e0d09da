package publisher_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/events"
	"golava/server/publisher"
	"golava/server/store"
)

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// hubRun starts h and returns a stop func that waits for Run; it also runs at cleanup.
func hubRun(t testing.TB, h *publisher.Hub) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("hub Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("hub Run did not return")
		}
	}
	t.Cleanup(stop)
	return stop
}

// startWS serves h's /ws/ until the test ends.
func startWS(t testing.TB, h *publisher.Hub) string {
	srv := httptest.NewServer(h.WSHandler())
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
}

// insertEvent writes an outbox row and notifies, as the store does.
func insertEvent(t testing.TB, st *store.Store, topic, user, data string) events.Event {
	t.Helper()
	ctx := context.Background()
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	ev := events.Event{Realm: "default", Topic: topic, Username: user, Data: data}
	err = tx.QueryRow(ctx, `INSERT INTO events (realm_id, topic, username, data) VALUES (1, $1, $2, $3)
		RETURNING id, uuid::text, created_at`, topic, user, data).Scan(&ev.ID, &ev.UUID, &ev.Time)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('lava_events', $1)`, strconv.FormatInt(ev.ID, 10)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ev.Time = ev.Time.UTC()
	return ev
}

func deviceData(i int) string {
	var o events.Ordered
	o.Set("health", "Good").Set("state", "Idle").Set("device", "qemu-"+strconv.Itoa(i)).Set("device_type", "qemu").Set("worker", nil)
	return o.String()
}

// wsClient collects text frames in a channel.
type wsClient struct {
	conn *websocket.Conn
	msgs chan []byte
	done chan error
}

func dialWS(t testing.TB, url string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{conn: c, msgs: make(chan []byte, 100000), done: make(chan error, 1)}
	go func() {
		for {
			typ, b, err := c.Read(context.Background())
			if err != nil {
				w.done <- err
				return
			}
			if typ != websocket.MessageText {
				w.done <- nil
				return
			}
			w.msgs <- b
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

// next waits for one frame.
func (w *wsClient) next(t testing.TB) []byte {
	t.Helper()
	select {
	case b := <-w.msgs:
		return b
	case err := <-w.done:
		t.Fatalf("websocket ended: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no websocket message within 20 s")
	}
	return nil
}

// parts decodes a frame into its strings (and the id when ?ids=1).
func parts(t testing.TB, b []byte) ([]string, int64) {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	var out []string
	var id int64
	for i, r := range raw {
		if i == 5 {
			if err := json.Unmarshal(r, &id); err != nil {
				t.Fatalf("frame %s id: %v", b, err)
			}
			continue
		}
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			t.Fatalf("frame %s element %d: %v", b, i, err)
		}
		out = append(out, s)
	}
	return out, id
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}
