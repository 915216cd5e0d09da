package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golava/pkg/events"
	"golava/server/store"
)

// HubConfig configures a Hub. The zero value works: no ZMQ, defaults below.
type HubConfig struct {
	// Prefix is the topic prefix (LAVA's EVENT_TOPIC); events.DefaultPrefix when empty.
	Prefix string
	// Buffer is how many recent events the hub keeps in memory, shared by
	// all subscribers (4096 when 0): memory is Buffer events whatever the
	// number of subscribers. A subscriber that falls further behind (a
	// burst) catches up from the database, without slowing anyone.
	Buffer int
	// MaxLag is how many ids a subscriber may be behind before it is dropped
	// as too slow (100000 when 0); it may reconnect with ?since=.
	MaxLag int64
	// BatchSize is the number of rows per database read (1000 when 0).
	BatchSize int
	// Tick is the safety poll, for a lost NOTIFY (1 s when 0).
	Tick time.Duration
	// StartAfter is the id of the last event already published: the hub
	// publishes every later one. 0 starts after the newest event at start.
	StartAfter int64
	// GapTimeout bounds the wait for a missing id whose transaction cannot be
	// proven finished (10 s when 0). Ids are normally settled as soon as the
	// transactions open when the gap was seen have ended.
	GapTimeout time.Duration
	// ZMQListen is the PUB address (LAVA's EVENT_SOCKET, e.g.
	// tcp://127.0.0.1:5500) of the default realm's events; empty disables it.
	ZMQListen string
	// ZMQRealms maps a realm name to the PUB address of that realm's own
	// socket (its events only, topics prefixed with the realm). A realm
	// without one has its events on /ws/ only.
	ZMQRealms map[string]string
	// ZMQPush lists addresses a PUSH socket connects to (LAVA's
	// EVENT_ADDITIONAL_SOCKETS).
	ZMQPush []string
	// ZMQHWM bounds the messages queued per ZMQ socket (10000 when 0, as LAVA).
	ZMQHWM int
	// WSPing is the WebSocket keepalive period (20 s when 0).
	WSPing time.Duration
	// WSWriteTimeout bounds one WebSocket write (10 s when 0): a client that
	// does not read for that long is dropped.
	WSWriteTimeout time.Duration
}

func (c *HubConfig) defaults() {
	if c.Prefix == "" {
		c.Prefix = events.DefaultPrefix
	}
	if c.Buffer <= 0 {
		c.Buffer = 4096
	}
	if c.MaxLag <= 0 {
		c.MaxLag = 100000
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
	if c.GapTimeout <= 0 {
		c.GapTimeout = 10 * time.Second
	}
	if c.ZMQHWM <= 0 {
		c.ZMQHWM = 10000
	}
	if c.WSPing <= 0 {
		c.WSPing = 20 * time.Second
	}
	if c.WSWriteTimeout <= 0 {
		c.WSWriteTimeout = 10 * time.Second
	}
}

// Message is one event with its encodings, built once for all subscribers.
type Message struct {
	Event  events.Event
	WS     []byte   // the WebSocket text frame
	Frames [][]byte // the five ZMQ frames
}

// Errors a Subscription ends with.
var (
	ErrTooSlow   = errors.New("subscriber fell too far behind")
	ErrHubClosed = errors.New("event hub stopped")
	ErrClosed    = errors.New("subscription closed")
)

// gapRetry is how soon a read is retried while an id is missing.
const gapRetry = 20 * time.Millisecond

// Hub follows the outbox and fans events out. Create it with NewHub and
// start Run; subscribers may come and go at any time.
type Hub struct {
	st     *store.Store
	logger *slog.Logger
	cfg    HubConfig

	ready     chan struct{} // closed once Run knows where it starts
	readyOnce sync.Once

	mu            sync.RWMutex
	ring          []*Message
	head          int64 // absolute index of the next message
	completeAfter int64 // every event after this id is in the ring or not yet read
	last          int64 // id of the newest message
	wake          chan struct{}
	closed        bool

	lastID atomic.Int64

	subsMu sync.Mutex
	subs   map[*Subscription]struct{}

	notify  chan struct{}
	gap     *gapState
	gapOpen atomic.Bool // a missing id holds delivery back
	zmq     *zmqOut
	stats   struct{ published, dropped, replays atomic.Int64 }
}

// gapState is a missing id range (after, next) the hub waits on.
type gapState struct {
	after, next int64
	xids        []int64 // transactions that might still commit an id in the gap
	probed      bool    // xids is trustworthy
	since       time.Time
	settled     bool
}

// NewHub returns a hub reading from st.
func NewHub(st *store.Store, logger *slog.Logger, cfg HubConfig) *Hub {
	cfg.defaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		st: st, logger: logger, cfg: cfg,
		ready: make(chan struct{}), ring: make([]*Message, cfg.Buffer),
		wake: make(chan struct{}), subs: map[*Subscription]struct{}{},
		notify: make(chan struct{}, 1),
	}
}

// Prefix is the topic prefix in use.
func (h *Hub) Prefix() string { return h.cfg.Prefix }

// LastID is the id of the newest event published; save it to restart a
// publisher where it stopped (HubConfig.StartAfter).
func (h *Hub) LastID() int64 { return h.lastID.Load() }

// ZMQAddr is the bound PUB address, nil without ZMQ or before Run binds it.
func (h *Hub) ZMQAddr() string {
	<-h.ready
	if h.zmq == nil {
		return ""
	}
	return h.zmq.addr()
}

// ZMQRealmAddr is the address of the PUB socket carrying realm's events
// ("" when it has none); the default realm's is ZMQAddr.
func (h *Hub) ZMQRealmAddr(realm string) string {
	<-h.ready
	if h.zmq == nil {
		return ""
	}
	return h.zmq.realmAddr(realm)
}

// Run follows the outbox until ctx ends, then closes every subscription.
func (h *Hub) Run(ctx context.Context) error {
	defer h.shutdown()
	start, err := h.startID(ctx)
	if err != nil {
		h.readyOnce.Do(func() { close(h.ready) })
		return err
	}
	if h.cfg.ZMQListen != "" || len(h.cfg.ZMQPush) > 0 || len(h.cfg.ZMQRealms) > 0 {
		z, err := startZMQ(ctx, h.cfg, h.logger)
		if err != nil {
			h.readyOnce.Do(func() { close(h.ready) })
			return err
		}
		h.zmq = z
		defer z.close()
	}
	h.mu.Lock()
	h.last, h.completeAfter = start, start
	h.mu.Unlock()
	h.lastID.Store(start)
	h.readyOnce.Do(func() { close(h.ready) })
	h.logger.Info("event hub started", slog.Int64("after_id", start))

	listenDone := make(chan struct{})
	go func() { defer close(listenDone); h.listen(ctx) }()
	defer func() { <-listenDone }()

	tick := time.NewTicker(h.cfg.Tick)
	defer tick.Stop()
	var retry <-chan time.Time
	for {
		retry = nil
		if again := h.poll(ctx); again > 0 {
			retry = time.After(again)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.notify:
		case <-tick.C:
		case <-retry:
		}
	}
}

// startID is StartAfter, or the newest event id, retrying while the
// database is unreachable.
func (h *Hub) startID(ctx context.Context) (int64, error) {
	if h.cfg.StartAfter > 0 {
		return h.cfg.StartAfter, nil
	}
	backoff := 100 * time.Millisecond
	for {
		id, err := h.st.LatestEventID(ctx)
		if err == nil {
			return id, nil
		}
		h.logger.Warn("event hub cannot read the newest event", slog.Any("error", err))
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("event hub start: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// poll reads and publishes everything available in order; it returns how
// soon to try again when an id is missing, else 0.
func (h *Hub) poll(ctx context.Context) time.Duration {
	for ctx.Err() == nil {
		h.settleGap(ctx)
		last := h.lastID.Load()
		evs, err := h.st.EventsAfter(ctx, last, h.cfg.BatchSize)
		if err != nil {
			if ctx.Err() == nil {
				h.logger.Warn("read events", slog.Int64("after_id", last), slog.Any("error", err))
			}
			return 0
		}
		msgs, blocked := h.accept(ctx, last, evs)
		h.publish(msgs)
		if blocked {
			return gapRetry
		}
		if len(evs) < h.cfg.BatchSize {
			return 0
		}
	}
	return 0
}

// accept returns the messages that can go out in order after last, and
// whether a missing id stopped it.
func (h *Hub) accept(ctx context.Context, last int64, evs []events.Event) ([]*Message, bool) {
	var out []*Message
	for _, ev := range evs {
		if ev.ID != last+1 {
			g := h.gap
			if g == nil || g.after != last {
				// Probe after the read: a transaction holding a missing id
				// was open then, so it is open now or finished.
				xids, err := h.st.OpenTransactions(ctx)
				if err != nil {
					h.logger.Debug("probe open transactions", slog.Any("error", err))
				}
				h.gap = &gapState{after: last, next: ev.ID, xids: xids, probed: err == nil, since: time.Now()}
				h.gapOpen.Store(true)
				return out, true
			}
			if !g.settled {
				return out, true
			}
			h.logger.Debug("event ids never committed", slog.Int64("from", last+1), slog.Int64("to", ev.ID-1))
		}
		out = append(out, h.newMessage(ev))
		last = ev.ID
		h.gap = nil
		h.gapOpen.Store(false)
	}
	return out, false
}

// settleGap decides, before a read, whether the pending gap is permanent.
func (h *Hub) settleGap(ctx context.Context) {
	g := h.gap
	if g == nil || g.settled {
		return
	}
	if g.probed {
		done, err := h.st.TransactionsDone(ctx, g.xids)
		if err == nil && done {
			g.settled = true
			return
		}
	}
	if time.Since(g.since) > h.cfg.GapTimeout {
		h.logger.Warn("gave up waiting for missing event ids",
			slog.Int64("from", g.after+1), slog.Int64("to", g.next-1), slog.Duration("waited", time.Since(g.since)))
		g.settled = true
	}
}

func (h *Hub) newMessage(ev events.Event) *Message {
	return &Message{Event: ev, WS: ev.WSMessage(h.cfg.Prefix), Frames: ev.Frames(h.cfg.Prefix)}
}

// publish appends msgs to the ring, wakes subscribers and sends ZMQ.
func (h *Hub) publish(msgs []*Message) {
	if len(msgs) == 0 {
		return
	}
	size := int64(len(h.ring))
	h.mu.Lock()
	for _, m := range msgs {
		slot := h.head % size
		if old := h.ring[slot]; old != nil {
			h.completeAfter = old.Event.ID
		}
		h.ring[slot] = m
		h.head++
	}
	h.last = msgs[len(msgs)-1].Event.ID
	close(h.wake)
	h.wake = make(chan struct{})
	h.mu.Unlock()
	h.lastID.Store(msgs[len(msgs)-1].Event.ID)
	h.stats.published.Add(int64(len(msgs)))
	if h.zmq != nil {
		for _, m := range msgs {
			h.zmq.send(m.Event.Realm, m.Frames)
		}
	}
}

// Stats are counters for monitoring and tests.
type Stats struct {
	Subscribers int   // subscriptions open now
	Published   int64 // events published since start
	Dropped     int64 // subscribers dropped for being too slow
	Replays     int64 // catch-ups from the database after the ring moved on
	WaitingGap  bool  // delivery waits for a missing id
}

// Stats returns the current counters.
func (h *Hub) Stats() Stats {
	h.subsMu.Lock()
	n := len(h.subs)
	h.subsMu.Unlock()
	return Stats{Subscribers: n, Published: h.stats.published.Load(), Dropped: h.stats.dropped.Load(), Replays: h.stats.replays.Load(), WaitingGap: h.gapOpen.Load()}
}

// shutdown wakes and ends every subscription.
func (h *Hub) shutdown() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.wake)
	}
	h.mu.Unlock()
	h.subsMu.Lock()
	for s := range h.subs {
		s.end(ErrHubClosed)
	}
	h.subsMu.Unlock()
}
