package run

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/pkg/logfmt"
)

// recorder is a Sink that keeps decoded records and signals each one.
type recorder struct {
	mu   sync.Mutex
	recs []logfmt.Line
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 1)} }

func (r *recorder) Send(rec string) {
	l, err := logfmt.Decode(rec)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.recs = append(r.recs, l)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// waitTargets waits until n target lines were logged and returns them.
func (r *recorder) waitTargets(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		var got []string
		for _, l := range r.recs {
			if l.Lvl == logfmt.LevelTarget {
				got = append(got, l.Msg.(string))
			}
		}
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline:
			t.Fatalf("only %d target lines: %q", len(got), got)
		}
	}
}

func connectBoard(t *testing.T, mode string) (*Console, *recorder) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	c, err := Connect(boardEnv+"="+mode+" "+exe, NewLogger(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, rec
}

func TestConsoleLines(t *testing.T) {
	t.Parallel()
	c, rec := connectBoard(t, "bytes")
	lines := make(chan string, 10)
	c.SetLineHandler(func(l string) { lines <- l })
	got := rec.waitTargets(t, 7) // 3 boot lines + 3 lines + the idle-flushed partial
	want := []string{"U-Boot 2023.01", "Starting kernel ...", "[    0.000000] Linux version 6.1.0 (fake)",
		"line1", "bin\x00\ufffd\x1b[0m end", "first second", "partial"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("target lines %q\nwant %q", got, want)
	}
	// The line handler sees complete lines only, bytes untouched.
	var raw []string
	for len(raw) < 6 {
		raw = append(raw, <-lines)
	}
	if raw[4] != "bin\x00\xff\x1b[0m end\r" {
		t.Errorf("raw line = %q", raw[4])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	idx, text, err := c.ExpectText(ctx, []*regexp.Regexp{regexp.MustCompile(`second`), regexp.MustCompile(`first`)})
	if err != nil || idx != 1 || text != "first" {
		t.Fatalf("earliest match: %d %q %v", idx, text, err)
	}
	// "first" was consumed, "second" is still there.
	if idx, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(`first|second`)}); err != nil || idx != 0 {
		t.Fatalf("second match: %d %v", idx, err)
	}
}

func TestConsoleSendAndTimeout(t *testing.T) {
	t.Parallel()
	c, rec := connectBoard(t, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.SetCharacterDelay(time.Millisecond)
	if err := c.SendLine(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(`got hello`)}); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeoutCause(ctx, 50*time.Millisecond, JobError("wait for prompt timed out"))
	defer tcancel()
	_, err := c.Expect(tctx, []*regexp.Regexp{regexp.MustCompile(`never`)})
	if e, ok := errors.AsType[*Error](err); !ok || e.Msg != "wait for prompt timed out" {
		t.Fatalf("timeout err = %v", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var inputs int
	for _, l := range rec.recs {
		if l.Lvl == logfmt.LevelInput && l.Msg == "hello\n" {
			inputs++
		}
	}
	if inputs != 1 {
		t.Errorf("input records = %d", inputs)
	}
}

func TestConsoleClosed(t *testing.T) {
	t.Parallel()
	c, _ := connectBoard(t, "drop")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(`login:`)})
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Type != TypeInfrastructure || !errors.Is(err, ErrConnectionClosed) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("Done not closed")
	}
}

func TestConsoleCloseKillsGroup(t *testing.T) {
	t.Parallel()
	c, _ := connectBoard(t, "hang")
	pid := c.cmd.Process.Pid
	c.Close()
	c.Close() // twice is fine
	select {
	case <-c.waited:
	default:
		t.Fatalf("connection process %d not reaped", pid)
	}
}
