package devconf

import (
	"strings"
	"testing"
	"time"
)

// runawayDictionaries would hang the renderer, take all memory or
// overflow the Go stack (which kills the process) without the limits.
var runawayDictionaries = []struct{ name, dict, want string }{
	{"nested loops", "{% set l = range(100000) %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}", "iterations"},
	{"loop over a long string", "{% set s = 'a' * 4000000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}", "iterations"},
	{"recursive macro", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "nested more than"},
	{"mutually recursive macros", "{% macro f() %}{{ g() }}{% endmacro %}{% macro g() %}{{ f() }}{% endmacro %}{{ f() }}", "nested more than"},
	{"exponential macros", "{% macro a() %}x{% endmacro %}" + exponentialMacros(40) + "{{ m40() }}", "macro calls"},
	{"include itself", "{% include '/device-dictionary.jinja2' %}", ""}, // after extends: runs once
	{"huge string", "{% set x = 'a' * 100000000 %}", "more than"},
	{"doubling string", "{% set s = 'ab' %}{% set s = s ~ s %}" + strings.Repeat("{% set s = s ~ s %}", 40), "more than"},
	{"doubling list", "{% set l = [1] %}" + strings.Repeat("{% set l = l + l %}", 40), "more than"},
}

// exponentialMacros defines m1..mN, each calling the previous one twice.
func exponentialMacros(n int) string {
	var b strings.Builder
	b.WriteString("{% macro m0() %}{{ a() }}{% endmacro %}")
	for i := 1; i <= n; i++ {
		prev := "m" + itoa(i-1)
		b.WriteString("{% macro m" + itoa(i) + "() %}{{ " + prev + "() }}{{ " + prev + "() }}{% endmacro %}")
	}
	return b.String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestRenderLimits: each runaway dictionary fails with a clear error well
// within a time bound.
func TestRenderLimits(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	for _, tc := range runawayDictionaries {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			done := make(chan error, 1)
			go func() {
				_, err := r.Render("{% extends 'dut-sim.jinja2' %}\n" + tc.dict)
				done <- err
			}()
			select {
			case err := <-done:
				// On a loaded machine the clock may stop a render first.
				if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) && !strings.Contains(err.Error(), "render took longer")) {
					t.Errorf("error %v, want one saying %q", err, tc.want)
				}
			case <-time.After(MaxRenderTime + 20*time.Second):
				t.Fatalf("render still running after %v", MaxRenderTime+20*time.Second)
			}
		})
	}
}
