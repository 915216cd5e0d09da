package dutsim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// maxPendingInput bounds the bytes typed and not yet read by the board, as a
// UART FIFO overflows: the rest is dropped.
const maxPendingInput = 1 << 20

// writeSlice bounds how long one write blocks before re-checking the power
// session, so a client that stops reading cannot keep a powered-off board
// printing.
const writeSlice = 250 * time.Millisecond

// console is the serial line: at most one client, output lost when nobody
// listens, input routed to the current power session.
type console struct {
	logger *slog.Logger
	feed   func([]byte) // delivers input to the board

	mu       sync.Mutex
	conn     net.Conn
	attaches int // clients accepted so far, so tests know theirs is attached

	wmu sync.Mutex // serialises output so chunks never interleave
}

// attach makes conn the console client, replacing (closing) the previous one.
func (c *console) attach(conn net.Conn) {
	c.mu.Lock()
	old := c.conn
	c.conn = conn
	c.attaches++
	c.mu.Unlock()
	if old != nil {
		c.logger.Info("console client replaced")
		_ = old.Close()
	}
	go c.readLoop(conn)
}

func (c *console) readLoop(conn net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			c.feed(append([]byte(nil), buf[:n]...))
		}
		if err != nil {
			c.detach(conn)
			return
		}
	}
}

// detach forgets conn if it is still the client, and closes it.
func (c *console) detach(conn net.Conn) {
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
	}
	c.mu.Unlock()
	_ = conn.Close()
}

// drop closes the current client, as a flaky serial server would, or as
// the board goes away; reason goes to the log.
func (c *console) drop(reason string) {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		c.logger.Info("console connection closed", slog.String("reason", reason))
		_ = conn.Close()
	}
}

func (c *console) state() (connected bool, attaches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil, c.attaches
}

func (c *console) current() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// write prints p on the serial line for the power session ctx, throttled to
// rate bytes per second when rate > 0. Output with no client is lost. It
// returns ctx's error once the session is over.
func (c *console) write(ctx context.Context, p []byte, rate int) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if rate <= 0 {
		return c.writeChunk(ctx, p)
	}
	chunk := max(1, rate/50)
	start := time.Now()
	sent := 0
	for len(p) > 0 {
		n := min(chunk, len(p))
		if err := c.writeChunk(ctx, p[:n]); err != nil {
			return err
		}
		p = p[n:]
		sent += n
		due := start.Add(time.Duration(sent) * time.Second / time.Duration(rate))
		if err := sleepUntil(ctx, due); err != nil {
			return err
		}
	}
	return nil
}

func (c *console) writeChunk(ctx context.Context, p []byte) error {
	for len(p) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		conn := c.current()
		if conn == nil {
			return nil // nobody listens: the bytes are lost
		}
		_ = conn.SetWriteDeadline(time.Now().Add(writeSlice))
		n, err := conn.Write(p)
		p = p[n:]
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			c.detach(conn)
			return nil
		}
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// inputStream buffers the bytes typed at the board during one power session.
type inputStream struct {
	mu     sync.Mutex
	buf    []byte
	notify chan struct{}
}

func newInputStream() *inputStream {
	return &inputStream{notify: make(chan struct{}, 1)}
}

func (s *inputStream) push(p []byte) {
	s.mu.Lock()
	room := maxPendingInput - len(s.buf)
	if len(p) > room {
		p = p[:max(room, 0)]
	}
	s.buf = append(s.buf, p...)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// read copies pending bytes into p, waiting for at least one.
func (s *inputStream) read(ctx context.Context, p []byte) (int, error) {
	for {
		s.mu.Lock()
		if len(s.buf) > 0 {
			n := copy(p, s.buf)
			s.buf = s.buf[n:]
			s.mu.Unlock()
			return n, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-s.notify:
		}
	}
}

func (s *inputStream) readByte(ctx context.Context) (byte, error) {
	var b [1]byte
	_, err := s.read(ctx, b[:])
	return b[0], err
}

// flush drops what was typed so far, as getty flushes the tty.
func (s *inputStream) flush() {
	s.mu.Lock()
	s.buf = nil
	s.mu.Unlock()
}

// pending reports whether a byte is waiting, without consuming it.
func (s *inputStream) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.buf) > 0
}
