package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lavaDeviceTypes is lava-server 2023.01's device-types folder from the
// reference packages ($LAVA_REF_DIR, else <repo>/.cache/lava-ref).
func lavaDeviceTypes(t *testing.T) string {
	t.Helper()
	ref := os.Getenv("LAVA_REF_DIR")
	if ref == "" {
		ref = filepath.Join("..", "..", ".cache", "lava-ref")
	}
	dir := filepath.Join(ref, "usr/share/lava-server/device-types")
	if _, err := os.Stat(filepath.Join(dir, "beaglebone-black.jinja2")); err != nil {
		t.Fatalf("LAVA device-type templates not found (set LAVA_REF_DIR or run `make ref`): %v", err)
	}
	return dir
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRenderDevice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bbb := writeFile(t, dir, "bbb-01.jinja2", "{% extends 'beaglebone-black.jinja2' %}\n"+
		"{% set connection_command = 'telnet localhost 7000' %}\n"+
		"{% set console_device = console_device | default('ttyO0') %}\n")
	ctx := writeFile(t, dir, "context.yaml", "extra_kernel_args: quiet\nconsole_device: ttyS9\n")
	sim := writeFile(t, dir, "sim.jinja2", "{% extends 'dut-sim.jinja2' %}\n")
	missing := writeFile(t, dir, "missing.jinja2", "{% extends 'nope.jinja2' %}\n")
	broken := writeFile(t, dir, "broken.jinja2", "{% extends 'dut-sim.jinja2' %}\n{% set x = [1, %}\n")
	badCtx := writeFile(t, dir, "bad-context.yaml", "- a list\n")
	lava := lavaDeviceTypes(t)
	tests := []struct {
		name string
		args []string
		code int
		want []string // substrings of stdout, or of stderr when code != 0
	}{
		{"lava template with context", []string{"--templates", lava, "--context", ctx, bbb}, 0,
			[]string{"connect: telnet localhost 7000", "console=ttyS9,115200n8", " quiet ip=dhcp", "bootloader_prompt: U-Boot"}},
		{"templates flag repeats", []string{"--templates", dir, "--templates", lava, bbb}, 0,
			[]string{"console=ttyO0,115200n8"}},
		{"golava's own template", []string{sim}, 0, []string{"device_type: dut-sim"}},
		{"unknown template", []string{missing}, 1, []string{"missing.jinja2", "nope.jinja2", "not found"}},
		{"template syntax", []string{broken}, 1, []string{"broken.jinja2", "line 2"}},
		{"context not a mapping", []string{"--context", badCtx, sim}, 1, []string{"bad-context.yaml", "expected a YAML mapping"}},
		{"no dictionary file", []string{filepath.Join(dir, "none.jinja2")}, 1, []string{"none.jinja2"}},
		{"no argument", nil, 2, []string{"wrong number of arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := lavaServer(t, append([]string{"render-device"}, tt.args...)...)
			text := out
			if tt.code != 0 {
				text = errOut
			}
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("output lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestValidateThreeErrors: `lava-server validate` prints every error of a
// job with its path, line and column (acceptance 2 of issue 3), "FILE:
// valid" for a good one, and exits 1 when any is invalid.
func TestValidateThreeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := writeFile(t, dir, "three.yaml", `job_name: three errors
device_type: qemu
visibility: secret
priority: 101
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: warp-drive
`)
	good := writeFile(t, dir, "good.yaml", validJob)
	code, out, _ := lavaServer(t, "validate", good, bad)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != good+": valid" || !strings.HasPrefix(lines[1], bad+": invalid: ") {
		t.Fatalf("output:\n%s", out)
	}
	for _, w := range []string{"line 3 column 13: visibility: ", "line 4 column 11: priority: ", "line 9 column 13: actions[0].boot.method: "} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("missing %q in %s", w, lines[1])
		}
	}
	if code, out, _ := lavaServer(t, "validate", good); code != 0 || out != good+": valid\n" {
		t.Errorf("valid only: exit %d, %q", code, out)
	}
	code, out, _ = lavaServer(t, "schema")
	if code != 0 || !strings.Contains(out, `"$schema"`) || !strings.Contains(out, `"job_name"`) {
		t.Errorf("schema: exit %d, %.200s", code, out)
	}
}
