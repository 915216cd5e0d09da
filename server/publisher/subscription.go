package publisher

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"golava/pkg/events"
)

// FromNow subscribes to events published from now on.
const FromNow int64 = -1

// fillMax is how many messages a subscriber takes from the ring at once.
const fillMax = 256

// Subscription is one subscriber's cursor. Next must be called from one
// goroutine; Close from any.
type Subscription struct {
	hub    *Hub
	filter func(events.Event) bool
	pos    atomic.Int64 // next absolute ring index; -1 while replaying from the database
	lastID int64        // newest id handed out (or asked to start after)

	pending []*Message
	next    int

	done    chan struct{}
	endOnce sync.Once
	err     error
}

// Subscribe returns a subscription to the events after fromID (FromNow for
// new ones only). Older events than the hub keeps in memory are replayed from
// the database. filter, when not nil, keeps only the events it accepts; it
// runs on the subscriber's goroutine. Subscribe waits for Run to start.
func (h *Hub) Subscribe(ctx context.Context, fromID int64, filter func(events.Event) bool) (*Subscription, error) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &Subscription{hub: h, filter: filter, done: make(chan struct{})}
	h.mu.RLock()
	closed := h.closed
	if fromID < 0 {
		s.pos.Store(h.head)
		s.lastID = h.last
	} else {
		s.pos.Store(-1)
		s.lastID = fromID
	}
	h.mu.RUnlock()
	if closed {
		return nil, ErrHubClosed
	}
	h.subsMu.Lock()
	h.subs[s] = struct{}{}
	h.subsMu.Unlock()
	return s, nil
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.end(ErrClosed)
	s.hub.subsMu.Lock()
	delete(s.hub.subs, s)
	s.hub.subsMu.Unlock()
}

// Done is closed when the subscription has ended; Err says why.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err is why the subscription ended, nil while it runs.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// LastID is the id of the newest event Next returned.
func (s *Subscription) LastID() int64 { return s.lastID }

func (s *Subscription) end(err error) {
	s.endOnce.Do(func() {
		if err == ErrTooSlow {
			s.hub.stats.dropped.Add(1)
		}
		s.err = err
		close(s.done)
	})
}

// ErrWouldBlock is TryNext's answer when no event is ready.
var ErrWouldBlock = errors.New("no event ready")

// TryNext is Next without waiting for new events: it returns ErrWouldBlock
// instead (a database catch-up still reads).
func (s *Subscription) TryNext(ctx context.Context) (*Message, error) { return s.next1(ctx, false) }

// Next blocks until the next event, in id order. It fails with ErrTooSlow
// when the subscriber fell more than HubConfig.MaxLag behind, ErrHubClosed
// when the hub stops, or ctx's error.
func (s *Subscription) Next(ctx context.Context) (*Message, error) { return s.next1(ctx, true) }

func (s *Subscription) next1(ctx context.Context, wait bool) (*Message, error) {
	for {
		for s.next < len(s.pending) {
			m := s.pending[s.next]
			s.next++
			if m.Event.ID <= s.lastID {
				continue // already handed out, or before the requested start
			}
			s.lastID = m.Event.ID
			if s.filter == nil || s.filter(m.Event) {
				return m, nil
			}
		}
		if err := s.fill(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// fill loads the next messages, waiting for the hub if there are none.
func (s *Subscription) fill(ctx context.Context, wait bool) error {
	s.pending, s.next = s.pending[:0], 0
	for {
		if err := s.Err(); err != nil {
			return err
		}
		if s.pos.Load() < 0 {
			return s.replay(ctx)
		}
		h := s.hub
		size := int64(len(h.ring))
		h.mu.RLock()
		pos, head := s.pos.Load(), h.head
		if head-pos > size {
			// The ring moved past us: catch up from the database.
			h.mu.RUnlock()
			h.stats.replays.Add(1)
			s.pos.Store(-1)
			continue
		}
		if pos < head {
			n := min(head-pos, fillMax)
			for i := range n {
				s.pending = append(s.pending, h.ring[(pos+i)%size])
			}
			s.pos.Store(pos + n)
			h.mu.RUnlock()
			return nil
		}
		wake, closed := h.wake, h.closed
		h.mu.RUnlock()
		if closed {
			s.end(ErrHubClosed)
			return ErrHubClosed
		}
		if !wait {
			return ErrWouldBlock
		}
		select {
		case <-wake:
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// replay reads from the database until the subscriber reaches what the ring
// holds, then moves it onto the ring. It never reads past the hub's newest
// id, so it cannot step over an id the hub still waits for.
func (s *Subscription) replay(ctx context.Context) error {
	h := s.hub
	h.mu.RLock()
	completeAfter, hubLast := h.completeAfter, h.last
	h.mu.RUnlock()
	if s.lastID >= completeAfter && s.moveToRing() {
		return nil
	}
	if hubLast-s.lastID > h.cfg.MaxLag {
		s.end(ErrTooSlow)
		return ErrTooSlow
	}
	evs, err := h.st.EventsAfter(ctx, s.lastID, min(h.cfg.BatchSize, fillMax))
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if ev.ID > hubLast {
			break
		}
		s.pending = append(s.pending, h.newMessage(ev))
	}
	if len(s.pending) == 0 {
		// Nothing left in the database below the ring: ids were skipped.
		s.lastID = max(s.lastID, completeAfter)
		s.moveToRing()
	}
	return nil
}

// moveToRing points the cursor at the first ring message after lastID,
// unless the ring moved on meanwhile past lastID.
func (s *Subscription) moveToRing() bool {
	h := s.hub
	size := int64(len(h.ring))
	h.mu.RLock()
	defer h.mu.RUnlock()
	if s.lastID < h.completeAfter {
		return false
	}
	lo := max(0, h.head-size)
	n := int(h.head - lo)
	i := sort.Search(n, func(i int) bool { return h.ring[(lo+int64(i))%size].Event.ID > s.lastID })
	s.pos.Store(lo + int64(i))
	return true
}
