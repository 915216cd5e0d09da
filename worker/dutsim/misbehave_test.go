package dutsim

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type misbehaviourCase struct {
	name     string
	cfg      Config            // flags at start
	settings map[string]string // or set on the running board
	check    func(t *testing.T, b *testBoard, tm *term)
}

func misbehaviourCases() []misbehaviourCase {
	return []misbehaviourCase{
		{
			name:     "hang-at-boot",
			settings: map[string]string{"hang-at-boot": "true"},
			check: func(t *testing.T, b *testBoard, tm *term) {
				// Half the kernel lines, then nothing.
				tm.expect(kernelLines(DefaultName, "", DefaultBootLines)[4] + "\r\n")
				b.waitStage(StageHung)
				tm.send("root\n") // ignored: the board is hung
				assertNoLogin(t, b, tm, StageHung)
			},
		},
		{
			name: "panic",
			cfg:  Config{Flags: Flags{Panic: true}},
			check: func(t *testing.T, b *testBoard, tm *term) {
				tm.expect("Linux version 6.1.0-dut-sim")
				tm.expect("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)\r\n")
				tm.expect("---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---\r\n")
				b.waitStage(StagePanicked)
				assertNoLogin(t, b, tm, StagePanicked)
			},
		},
		{
			name:     "drop-connection",
			settings: map[string]string{"drop_connection": "1"},
			check: func(t *testing.T, b *testBoard, tm *term) {
				tm.expect("Linux version 6.1.0-dut-sim")
				tm.waitClosed()
				again := b.connect()
				again.send("\n") // a newline makes the getty prompt again
				again.login()
				again.send("echo back\n")
				again.expect("back\r\n")
				if st := b.status(); st.Boots != 1 || st.Power != "on" {
					t.Fatalf("after reconnect: %+v, want the same boot still on", st)
				}
			},
		},
		{
			name:     "garbage",
			settings: map[string]string{"garbage": "true"},
			check: func(t *testing.T, b *testBoard, tm *term) {
				tm.login()
				out := tm.all()
				if utf8.Valid(out) {
					t.Fatalf("garbage board printed valid UTF-8 only:\n%q", out)
				}
				if !bytes.ContainsFunc(out, func(r rune) bool { return r < 0x20 && r != '\r' && r != '\n' && r != '\b' }) {
					t.Fatalf("garbage board printed no control bytes:\n%q", out)
				}
				i := bytes.Index(out, []byte(loginPrompt))
				if utf8.Valid(out[bytes.LastIndex(out[:i], []byte("\r\n"))+2 : i]) {
					t.Fatalf("no garbage just before the login prompt:\n%q", out[:i])
				}
				tm.send("echo ok\n")
				tm.expect("ok\r\n")
			},
		},
		{
			name:     "slow",
			settings: map[string]string{"slow": "4000"},
			check: func(t *testing.T, b *testBoard, tm *term) {
				start := time.Now()
				tm.expect("Hit any key to stop autoboot:")
				elapsed := time.Since(start)
				n := len(tm.all())
				// A lower bound only: throttling can make output late, never early.
				if min := time.Duration(n-100) * time.Second / 4000; elapsed < min {
					t.Fatalf("%d bytes in %v at 4000 B/s, want at least %v", n, elapsed, min)
				}
				if got := b.status().Flags.SlowBytesPerSec; got != 4000 {
					t.Fatalf("status slow = %d, want 4000", got)
				}
			},
		},
	}
}

func TestMisbehaviour(t *testing.T) {
	t.Parallel()
	for _, tt := range misbehaviourCases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBoard(t, tt.cfg)
			tm := b.connect()
			if tt.settings != nil {
				b.set(tt.settings)
			}
			b.power("on", "on")
			tt.check(t, b, tm)
			// Every misbehaviour ends at power off, and the next boot is clean.
			b.set(map[string]string{"hang-at-boot": "false", "panic": "false",
				"drop-connection": "false", "garbage": "false", "slow": "0"})
			clean := b.connect()
			b.power("reset", "on")
			clean.login()
			if out := clean.all(); !utf8.Valid(out) || bytes.Contains(out, []byte("Kernel panic")) {
				t.Fatalf("misbehaviour after clearing flags:\n%q", out)
			}
		})
	}
}

// assertNoLogin checks the board stays silent in stage: nothing after the
// last line the caller expected, and no login prompt.
func assertNoLogin(t *testing.T, b *testBoard, tm *term, stage string) {
	t.Helper()
	for range 3 {
		if st := b.status(); st.Stage != stage {
			t.Fatalf("stage = %q, want %q", st.Stage, stage)
		}
	}
	tm.mu.Lock()
	after := string(tm.buf[tm.cursor:])
	all := string(tm.buf)
	tm.mu.Unlock()
	if after != "" || strings.Contains(all, "login:") {
		t.Fatalf("board printed after reaching %s: %q", stage, after)
	}
}
