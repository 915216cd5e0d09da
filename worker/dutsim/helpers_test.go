package dutsim

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// waitTimeout bounds every wait: generous, as the CI machine is shared.
const waitTimeout = 15 * time.Second

// testBoard is a board served by Run in-process, stopped in t.Cleanup.
type testBoard struct {
	t   *testing.T
	dir string
	ctx context.Context
}

func startBoard(t *testing.T, cfg Config) *testBoard {
	t.Helper()
	dir, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = filepath.Join(dir, "b")
	if cfg.AutobootDelay == 0 {
		cfg.AutobootDelay = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(t.Output(), nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run did not return after cancel")
		}
		_ = os.RemoveAll(dir)
	})
	b := &testBoard{t: t, dir: cfg.Dir, ctx: t.Context()}
	readyCtx, readyCancel := context.WithTimeout(b.ctx, waitTimeout)
	defer readyCancel()
	if err := WaitReady(readyCtx, b.dir); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *testBoard) power(action, want string) {
	b.t.Helper()
	got, err := Power(b.ctx, b.dir, action)
	if err != nil {
		b.t.Fatalf("power %s: %v", action, err)
	}
	if got != want {
		b.t.Fatalf("power %s = %q, want %q", action, got, want)
	}
}

func (b *testBoard) status() Status {
	b.t.Helper()
	st, err := GetStatus(b.ctx, b.dir)
	if err != nil {
		b.t.Fatalf("status: %v", err)
	}
	return st
}

func (b *testBoard) set(kv map[string]string) {
	b.t.Helper()
	if err := Set(b.ctx, b.dir, kv); err != nil {
		b.t.Fatalf("set %v: %v", kv, err)
	}
}

// waitStage polls the board status until its stage is want.
func (b *testBoard) waitStage(want string) Status {
	b.t.Helper()
	var st Status
	waitCond(b.t, "stage "+want, func() bool {
		st = b.status()
		return st.Stage == want
	})
	return st
}

// waitCond polls cond until it holds or the deadline passes.
func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// term is a console client that records everything it reads, like pexpect.
type term struct {
	t      *testing.T
	conn   net.Conn
	mu     sync.Mutex
	buf    []byte
	cursor int // expect searches from here
	update chan struct{}
	closed chan struct{}
}

// connect attaches a console client and waits until the board has it.
func (b *testBoard) connect() *term {
	b.t.Helper()
	before := b.status().ConsoleAttaches
	conn, err := net.Dial("unix", filepath.Join(b.dir, ConsoleSocket))
	if err != nil {
		b.t.Fatalf("dial console: %v", err)
	}
	tm := &term{t: b.t, conn: conn, update: make(chan struct{}, 1), closed: make(chan struct{})}
	b.t.Cleanup(func() { _ = conn.Close(); <-tm.closed })
	go tm.readLoop()
	waitCond(b.t, "console attach", func() bool { return b.status().ConsoleAttaches > before })
	return tm
}

func (tm *term) readLoop() {
	defer close(tm.closed)
	p := make([]byte, 4096)
	for {
		n, err := tm.conn.Read(p)
		tm.mu.Lock()
		tm.buf = append(tm.buf, p[:n]...)
		tm.mu.Unlock()
		select {
		case tm.update <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// expect waits for s after the cursor, moves the cursor past it and returns
// the text from the old cursor up to the end of s.
func (tm *term) expect(s string) string {
	tm.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		tm.mu.Lock()
		if i := bytes.Index(tm.buf[tm.cursor:], []byte(s)); i >= 0 {
			out := string(tm.buf[tm.cursor : tm.cursor+i+len(s)])
			tm.cursor += i + len(s)
			tm.mu.Unlock()
			return out
		}
		tm.mu.Unlock()
		select {
		case <-tm.update:
		case <-tm.closed:
			tm.mu.Lock()
			found := bytes.Contains(tm.buf[tm.cursor:], []byte(s))
			tm.mu.Unlock()
			if !found {
				tm.t.Fatalf("console closed before %q; got:\n%s", s, tm.all())
			}
		case <-timer.C:
			tm.t.Fatalf("timed out waiting for %q; got:\n%s", s, tm.all())
		}
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.conn.Write([]byte(s)); err != nil {
		tm.t.Fatalf("send %q: %v", s, err)
	}
}

func (tm *term) all() []byte {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return append([]byte(nil), tm.buf...)
}

// waitClosed waits until the board closes this client.
func (tm *term) waitClosed() {
	tm.t.Helper()
	select {
	case <-tm.closed:
	case <-time.After(waitTimeout):
		tm.t.Fatal("console not closed by the board")
	}
}

// login boots from power-off through autoboot to a root shell prompt.
func (tm *term) login() {
	tm.t.Helper()
	tm.expect(loginPrompt)
	tm.send("root\n")
	tm.expect(shellPrompt)
}

// processGone reports whether pid no longer exists (or is a zombie that is
// not ours to reap).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	state, _, _, ok := parseStat(string(stat))
	return ok && state == "Z"
}
