package dutsim

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while Console writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) contains(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.buf.String(), sub)
}

func TestConsoleBridge(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{AutobootDelay: 5_000_000_000})
	before := b.status().ConsoleAttaches
	inR, inW := io.Pipe()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Console(t.Context(), b.dir, inR, &out) }()
	waitCond(t, "console attach", func() bool { return b.status().ConsoleAttaches > before })

	b.power("on", "on")
	waitCond(t, "countdown", func() bool { return out.contains("Hit any key") })
	if _, err := inW.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "bootloader prompt", func() bool { return out.contains(ubootPrompt) })
	if _, err := inW.Write([]byte("echo bridged ok\n")); err != nil {
		t.Fatal(err)
	}
	waitCond(t, "echo output", func() bool { return out.contains("\r\nbridged ok\r\n") })
	_ = inW.Close() // stdin EOF ends the bridge
	if err := <-done; err != nil {
		t.Fatalf("Console: %v", err)
	}

	// The board closing the line ends the bridge too, with stdin still open.
	inR2, inW2 := io.Pipe()
	defer inW2.Close() // releases the stdin copier Console leaves behind
	go func() { done <- Console(t.Context(), b.dir, inR2, io.Discard) }()
	waitCond(t, "second attach", func() bool { return b.status().ConsoleAttaches > before+1 })
	b.connect() // replaces the bridge's connection
	if err := <-done; err != nil {
		t.Fatalf("Console after replacement: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{})
	missing, err := os.MkdirTemp("", "ds")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(missing) })
	long := filepath.Join(missing, strings.Repeat("x", 120))
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"power no board", func() error { _, err := Power(ctx, missing, "on"); return err }, "socket missing"},
		{"power bad action", func() error { _, err := Power(ctx, b.dir, "explode"); return err }, `power action "explode"`},
		{"set unknown key", func() error { return Set(ctx, b.dir, map[string]string{"turbo": "1"}) }, `setting "turbo": unknown`},
		{"set bad bool", func() error { return Set(ctx, b.dir, map[string]string{"panic": "maybe"}) }, `setting panic="maybe"`},
		{"set negative slow", func() error { return Set(ctx, b.dir, map[string]string{"slow": "-1"}) }, "must be >= 0"},
		{"set nothing", func() error { return Set(ctx, b.dir, nil) }, "no settings"},
		{"console no board", func() error { return Console(ctx, missing, strings.NewReader(""), io.Discard) }, "socket missing"},
		{"long dir", func() error { _, err := GetStatus(ctx, long); return err }, "over the unix limit"},
		{"run long dir", func() error { return Run(ctx, Config{Dir: long}, nil) }, "over the unix limit"},
		{"run no dir", func() error { return Run(ctx, Config{}, nil) }, "Dir is required"},
		{"wait ready no board", func() error {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			return WaitReady(c, missing)
		}, "socket missing"},
		{"cancelled", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := Power(c, b.dir, "status")
			return err
		}, "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// A failed Set changes nothing.
	if err := Set(ctx, b.dir, map[string]string{"garbage": "true", "slow": "x"}); err == nil {
		t.Fatal("Set with a bad value succeeded")
	}
	if st := b.status(); st.Flags.Garbage {
		t.Fatalf("half-applied Set: %+v", st.Flags)
	}
}

func TestControlSurvivesGarbage(t *testing.T) {
	t.Parallel()
	b := startBoard(t, Config{})
	for _, req := range []string{"not json\n", "{\"op\":\"fly\"}\n", strings.Repeat("x", maxRequest+10), ""} {
		conn, err := dial(t.Context(), b.dir, ControlSocket)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = conn.Write([]byte(req))
		_ = conn.(*net.UnixConn).CloseWrite() // the server must not wait for more
		reply, _ := io.ReadAll(conn)
		_ = conn.Close()
		if len(req) > 0 && len(req) < maxRequest && !bytes.Contains(reply, []byte(`"ok":false`)) {
			t.Errorf("request %q: reply %q, want ok:false", req, reply)
		}
	}
	if got := b.status().Power; got != "off" {
		t.Fatalf("power after garbage = %q", got)
	}
}
