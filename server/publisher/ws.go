package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/events"
)

// wsReadLimit bounds what a client may send; LAVA ignores client messages.
const wsReadLimit = 64 << 10

// WSFilter decides, per request, which events a WebSocket client may see;
// a nil func sees everything. An error refuses the connection with 403.
type WSFilter func(r *http.Request) (func(events.Event) bool, error)

// WSHandler serves /ws/: one TEXT frame per event, the JSON array of the five
// strings, as lava-publisher. ?since=ID replays the events after ID first;
// ?ids=1 adds each event's id as a sixth element (a number) to resume from.
// Client messages are ignored; the server pings every HubConfig.WSPing.
func (h *Hub) WSHandler() http.Handler { return h.WSHandlerFiltered(nil) }

// WSHandlerFiltered is WSHandler with a per-client event filter (nil: none).
func (h *Hub) WSHandlerFiltered(filter WSFilter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serveWS(w, r, filter) })
}

func (h *Hub) serveWS(w http.ResponseWriter, r *http.Request, wsFilter WSFilter) {
	from := FromNow
	withIDs := r.URL.Query().Get("ids") == "1"
	if v := r.URL.Query().Get("since"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			http.Error(w, fmt.Sprintf("since: %q is not an event id", v), http.StatusBadRequest)
			return
		}
		from = id
	}
	var filter func(events.Event) bool
	if wsFilter != nil {
		f, err := wsFilter(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		filter = f
	}
	sub, err := h.Subscribe(r.Context(), from, filter)
	if err != nil {
		http.Error(w, "event hub unavailable", http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	// No origin check, as lava-publisher: events are public to anyone who
	// can reach /ws/; a filter restricts private ones.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		h.logger.Debug("websocket accept", slog.String("remote", r.RemoteAddr), slog.Any("error", err))
		return
	}
	c.SetReadLimit(wsReadLimit)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { h.wsDiscardReads(ctx, cancel, c) })
	wg.Go(func() { h.wsKeepalive(ctx, cancel, c) })
	h.wsWrite(ctx, c, sub, r.RemoteAddr, withIDs)
}

// withID appends the event id as a sixth element, for clients that asked
// with ?ids=1 so that they can resume with ?since=.
func withID(m *Message) []byte {
	b := make([]byte, 0, len(m.WS)+24)
	b = append(b, m.WS[:len(m.WS)-1]...)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, m.Event.ID, 10)
	return append(b, ']')
}

// wsWrite sends events until the subscription or the connection ends.
func (h *Hub) wsWrite(ctx context.Context, c *websocket.Conn, sub *Subscription, remote string, withIDs bool) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			switch {
			case errors.Is(err, ErrTooSlow):
				h.logger.Info("websocket client too slow, dropped", slog.String("remote", remote), slog.Int64("last_id", sub.LastID()))
				_ = c.Close(websocket.StatusTryAgainLater, fmt.Sprintf("too slow: resume with ?since=%d", sub.LastID()))
			case errors.Is(err, ErrHubClosed):
				_ = c.Close(websocket.StatusGoingAway, "Server shutdown")
			default:
				_ = c.CloseNow()
			}
			return
		}
		wctx, wcancel := context.WithTimeout(ctx, h.cfg.WSWriteTimeout)
		frame := m.WS
		if withIDs {
			frame = withID(m)
		}
		err = c.Write(wctx, websocket.MessageText, frame)
		wcancel()
		if err != nil {
			if errors.Is(wctx.Err(), context.DeadlineExceeded) {
				h.stats.dropped.Add(1)
				h.logger.Info("websocket client not reading, dropped", slog.String("remote", remote), slog.Int64("last_id", sub.LastID()))
			}
			_ = c.CloseNow()
			return
		}
	}
}

// wsDiscardReads reads (and drops) client messages, which also handles
// pongs and the close handshake.
func (h *Hub) wsDiscardReads(ctx context.Context, cancel context.CancelFunc, c *websocket.Conn) {
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
	}
}

// wsKeepalive pings; a client that does not answer within a period is gone.
func (h *Hub) wsKeepalive(ctx context.Context, cancel context.CancelFunc, c *websocket.Conn) {
	t := time.NewTicker(h.cfg.WSPing)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, h.cfg.WSPing)
			err := c.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				return
			}
		}
	}
}
