package publisher

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golava/pkg/events"
)

// wsReadLimit bounds a client frame; LAVA ignores client messages.
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
	conn, br, err := wsAccept(w, r)
	if err != nil {
		h.logger.Debug("websocket accept", slog.String("remote", r.RemoteAddr), slog.Any("error", err))
		return
	}
	c := &wsConn{conn: conn, br: br, bw: bufio.NewWriterSize(conn, 32<<10), timeout: h.cfg.WSWriteTimeout}
	ctx, cancel := context.WithCancel(context.Background())
	readerDone := make(chan struct{})
	go func() { defer close(readerDone); defer cancel(); h.wsRead(c) }()
	var wg sync.WaitGroup
	wg.Go(func() { h.wsKeepalive(ctx, c) })
	if h.wsWrite(ctx, c, sub, r.RemoteAddr, withIDs) {
		// We sent a close frame: give the client a moment to answer.
		select {
		case <-readerDone:
		case <-time.After(2 * time.Second):
		}
	}
	cancel()
	conn.Close()
	<-readerDone
	wg.Wait()
}

// wsConn is one upgraded connection; writes from the event writer, the
// reader (pong, close) and the keepalive share the buffered writer.
type wsConn struct {
	conn net.Conn
	br   *bufio.Reader

	wmu        sync.Mutex
	bw         *bufio.Writer
	closeSent  bool
	deadlineAt time.Time
	timeout    time.Duration
}

// write queues a frame and flushes when asked. The write deadline is
// pushed forward at most once a second, so a burst costs no syscalls for it.
func (c *wsConn) write(op byte, payload []byte, flush bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	if now := time.Now(); now.Sub(c.deadlineAt) > time.Second {
		if err := c.conn.SetWriteDeadline(now.Add(c.timeout)); err != nil {
			return err
		}
		c.deadlineAt = now
	}
	if op == opClose {
		c.closeSent = true
	}
	if err := writeFrame(c.bw, op, payload); err != nil {
		return err
	}
	if flush {
		return c.bw.Flush()
	}
	return nil
}

func (c *wsConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.bw.Buffered() == 0 {
		return nil
	}
	if now := time.Now(); now.Sub(c.deadlineAt) > time.Second {
		if err := c.conn.SetWriteDeadline(now.Add(c.timeout)); err != nil {
			return err
		}
		c.deadlineAt = now
	}
	return c.bw.Flush()
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

// wsWrite sends events until the subscription or the connection ends,
// flushing only when no further event is ready. It reports whether it sent a
// close frame.
func (h *Hub) wsWrite(ctx context.Context, c *wsConn, sub *Subscription, remote string, withIDs bool) bool {
	for {
		m, err := sub.TryNext(ctx)
		if errors.Is(err, ErrWouldBlock) {
			if err := c.flush(); err != nil {
				h.writeFailed(err, remote, sub)
				return false
			}
			m, err = sub.Next(ctx)
		}
		if err != nil {
			return h.closeFor(err, c, remote, sub)
		}
		frame := m.WS
		if withIDs {
			frame = withID(m)
		}
		if err := c.write(opText, frame, false); err != nil {
			h.writeFailed(err, remote, sub)
			return false
		}
	}
}

func (h *Hub) closeFor(err error, c *wsConn, remote string, sub *Subscription) bool {
	var payload []byte
	switch {
	case errors.Is(err, ErrTooSlow):
		h.logger.Info("websocket client too slow, dropped", slog.String("remote", remote), slog.Int64("last_id", sub.LastID()))
		payload = closePayload(closeTryAgainLater, fmt.Sprintf("too slow: resume with ?since=%d", sub.LastID()))
	case errors.Is(err, ErrHubClosed):
		payload = closePayload(closeGoingAway, "Server shutdown")
	default:
		return false // the reader ended: the client closed or vanished
	}
	return c.write(opClose, payload, true) == nil
}

func (h *Hub) writeFailed(err error, remote string, sub *Subscription) {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		h.stats.dropped.Add(1)
		h.logger.Info("websocket client not reading, dropped", slog.String("remote", remote), slog.Int64("last_id", sub.LastID()))
		return
	}
	h.logger.Debug("websocket write", slog.String("remote", remote), slog.Any("error", err))
}

// wsRead reads client frames: pings get pongs, a close gets its echo, data
// is dropped. A client silent for two ping periods is gone.
func (h *Hub) wsRead(c *wsConn) {
	for {
		if err := c.conn.SetReadDeadline(time.Now().Add(2*h.cfg.WSPing + h.cfg.WSWriteTimeout)); err != nil {
			return
		}
		f, err := readFrame(c.br, wsReadLimit)
		switch {
		case errors.Is(err, errTooBig):
			_ = c.write(opClose, closePayload(closeTooBig, "message too big"), true)
			return
		case errors.Is(err, errProtocol):
			_ = c.write(opClose, closePayload(closeProtocolError, "protocol error"), true)
			return
		case err != nil:
			return
		}
		switch f.Op {
		case opPing:
			_ = c.write(opPong, f.Payload, true)
		case opClose:
			echo := closePayload(closeNormal, "")
			if len(f.Payload) >= 2 {
				echo = f.Payload[:2]
			}
			_ = c.write(opClose, echo, true)
			return
		}
	}
}

// wsKeepalive pings every period; the reader's deadline catches a client
// that stopped answering.
func (h *Hub) wsKeepalive(ctx context.Context, c *wsConn) {
	t := time.NewTicker(h.cfg.WSPing)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.write(opPing, nil, true); err != nil {
				return
			}
		}
	}
}
