package publisher_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/server/publisher"
	"golava/server/store/storetest"
)

func TestWebSocketProtocol(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{})
	stopHub := hubRun(t, h)
	url := startWS(t, h)
	httpURL := "http" + strings.TrimPrefix(url, "ws")

	t.Run("plain GET needs an upgrade", func(t *testing.T) {
		resp, err := http.Get(httpURL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d, want 426", resp.StatusCode)
		}
	})
	t.Run("bad since", func(t *testing.T) {
		resp, err := http.Get(httpURL + "?since=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("wrong version", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, httpURL, nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "8")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Fatalf("status %d version %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Version"))
		}
	})

	c := dialWS(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// Client messages are ignored; the connection keeps delivering.
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"subscribe": "nothing"}`)); err != nil {
		t.Fatal(err)
	}
	ev := insertEvent(t, st, "worker", "lavaserver", `{"hostname": "w1", "health": "Active", "state": "Online"}`)
	if got, _ := parts(t, c.next(t)); got[1] != ev.UUID {
		t.Fatalf("got %v", got)
	}

	// An oversized message ends the connection (with 1009 when the close
	// frame wins the race against the client's own write failing).
	big := dialWS(t, url)
	eventually(t, "subscribers", func() bool { return h.Stats().Subscribers == 2 })
	_ = big.conn.Write(ctx, websocket.MessageBinary, make([]byte, 100<<10))
	select {
	case err := <-big.done:
		if st := websocket.CloseStatus(err); st != -1 && st != websocket.StatusMessageTooBig {
			t.Fatalf("oversized message closed with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("oversized message did not close the connection")
	}
	eventually(t, "oversized client unsubscribed", func() bool { return h.Stats().Subscribers == 1 })

	closing := dialWS(t, url)
	eventually(t, "subscribers", func() bool { return h.Stats().Subscribers == 2 })
	if err := closing.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("client close handshake: %v", err)
	}
	eventually(t, "closed client unsubscribed", func() bool { return h.Stats().Subscribers == 1 })

	stopHub()
	select {
	case err := <-c.done:
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != "Server shutdown" {
			t.Fatalf("on shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no close frame on shutdown")
	}
}

func TestTooFarBehindIsDropped(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	for i := range 30 {
		insertEvent(t, st, "device", "lavaserver", deviceData(i))
	}
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{MaxLag: 10})
	hubRun(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := h.Subscribe(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if m, err := sub.Next(ctx); !errors.Is(err, publisher.ErrTooSlow) {
		t.Fatalf("Next 30 ids behind with MaxLag 10 = %+v, %v", m, err)
	}
	c := dialWS(t, startWS(t, h)+"?since=0")
	select {
	case err := <-c.done:
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || ce.Reason != "too slow: resume with ?since=0" {
			t.Fatalf("websocket closed with %v", err)
		}
	case <-ctx.Done():
		t.Fatal("websocket not closed")
	}
	if s := h.Stats(); s.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", s.Dropped)
	}
}
