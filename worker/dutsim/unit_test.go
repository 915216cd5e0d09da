package dutsim

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSplitCommands(t *testing.T) {
	t.Parallel()
	env := map[string]string{"a": "1", "bootfile": "Image", "sp": "x y"}
	tests := []struct {
		line string
		want [][]string
	}{
		{"", [][]string{nil}},
		{"  printenv  ", [][]string{{"printenv"}}},
		{"setenv x 'a b;c' ; echo $a", [][]string{{"setenv", "x", "a b;c"}, {"echo", "1"}}},
		{`echo "${bootfile} is $bootfile" '$a'`, [][]string{{"echo", "Image is Image", "$a"}}},
		{"echo $sp ''", [][]string{{"echo", "x y", ""}}},
		{"echo $ ${nope} ${open", [][]string{{"echo", "$", "${open"}}},
		{`echo "$nope"`, [][]string{{"echo", ""}}},
		{"echo pre$a-post", [][]string{{"echo", "pre1-post"}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			if got := splitCommands(tt.line, env); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("splitCommands(%q) = %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

func TestApplySettings(t *testing.T) {
	t.Parallel()
	base := settings{AutobootDelay: time.Second, BootLines: 10}
	tests := []struct {
		name    string
		kv      map[string]string
		want    settings
		wantErr string
	}{
		{"flags", map[string]string{"hang-at-boot": "true", "PANIC": "1", "drop_connection": "t", "garbage": "true", "slow": "2000"},
			settings{Flags: Flags{HangAtBoot: true, Panic: true, DropConnection: true, Garbage: true, SlowBytesPerSec: 2000},
				AutobootDelay: time.Second, BootLines: 10}, ""},
		{"timing", map[string]string{"autoboot-delay": "250ms", "boot_lines": "3"},
			settings{AutobootDelay: 250 * time.Millisecond, BootLines: 3}, ""},
		{"boot-lines 0 is default", map[string]string{"boot-lines": "0"}, base, ""},
		{"unknown", map[string]string{"colour": "red"}, base, `setting "colour": unknown`},
		{"bad duration", map[string]string{"autoboot-delay": "soon"}, base, "autoboot-delay"},
		{"zero duration", map[string]string{"autoboot-delay": "0s"}, base, "must be > 0"},
		{"bad int", map[string]string{"slow": "fast"}, base, "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := applySettings(base, tt.kv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("applySettings = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	t.Parallel()
	got, err := ParseSettings([]string{"panic=true", "slow=2000", "x=a=b"})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"panic": "true", "slow": "2000", "x": "a=b"}) {
		t.Fatalf("ParseSettings = %v, %v", got, err)
	}
	for _, bad := range [][]string{nil, {"panic"}, {"=1"}} {
		if _, err := ParseSettings(bad); err == nil {
			t.Errorf("ParseSettings(%q) succeeded", bad)
		}
	}
}

func TestKernelLines(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 10, 30} {
		lines := kernelLines("b", "", n)
		if len(lines) != n {
			t.Fatalf("kernelLines(%d) gave %d lines", n, len(lines))
		}
		all := strings.Join(lines, "\n")
		if !strings.Contains(all, "] Linux version 6.1.0-dut-sim ") {
			t.Fatalf("kernelLines(%d) has no version line:\n%s", n, all)
		}
		if !strings.HasPrefix(lines[0], "[    0.000000] ") {
			t.Fatalf("first line %q", lines[0])
		}
		last := ""
		for _, l := range lines {
			ts := l[:strings.IndexByte(l, ']')]
			if ts < last {
				t.Fatalf("timestamps go back: %q after %q", ts, last)
			}
			last = ts
		}
	}
}

func TestGarbage(t *testing.T) {
	t.Parallel()
	for range 100 {
		g := garbage(8)
		if len(g) != 8 || utf8.Valid(g) || bytes.ContainsAny(g, "\r\n") {
			t.Fatalf("garbage %q: want 8 invalid UTF-8 bytes with no CR/LF", g)
		}
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	state, pgrp, sess, ok := parseStat("42 (my (odd) cmd) S 1 42 40 0 -1 4194560")
	if !ok || state != "S" || pgrp != 42 || sess != 40 {
		t.Fatalf("parseStat = %q %d %d %v", state, pgrp, sess, ok)
	}
	if _, _, _, ok := parseStat("garbage"); ok {
		t.Fatal("parseStat accepted garbage")
	}
}

// FuzzSplitCommands: whatever is typed at the bootloader prompt, the parser
// neither panics nor invents a word from unquoted blanks.
func FuzzSplitCommands(f *testing.F) {
	for _, seed := range []string{"printenv", "setenv a 'b c'; run a", `echo "${x}$y" '$z'`, "${", "$", "';", `"`} {
		f.Add(seed)
	}
	env := map[string]string{"x": "1", "y": "two words"}
	f.Fuzz(func(t *testing.T, line string) {
		for _, cmd := range splitCommands(line, env) {
			for _, w := range cmd {
				if w == "" && !strings.ContainsAny(line, `'"`) {
					t.Fatalf("empty word from %q with no quotes", line)
				}
			}
		}
	})
}
