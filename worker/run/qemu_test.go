package run

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/pkg/devconf"
	"golava/worker/run/runtest"
)

// qemuDevice renders the qemu device type as the server does for a job
// whose context is ctx.
func qemuDevice(t *testing.T, ctx map[string]any) string {
	t.Helper()
	out, err := devconf.NewRenderer().RenderWith("{% extends 'qemu.jinja2' %}\n", ctx)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunQemu boots the Debian kernel with a busybox initramfs built now,
// under TCG, and runs a git and an inline test definition.
func TestRunQemu(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatalf("qemu-system-x86_64 is required (scripts/install-deps.sh test): %v", err)
	}
	dir := t.TempDir()
	fx, err := runtest.NewQemuFixture(dir)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "device.yaml"), qemuDevice(t, map[string]any{"arch": "amd64", "memory": 256}))
	write(t, filepath.Join(dir, "job.yaml"), fx.Job("qemu", 10))
	out := &logBuffer{matched: make(chan struct{})}
	cfg := Config{
		JobPath: filepath.Join(dir, "job.yaml"), DevicePath: filepath.Join(dir, "device.yaml"),
		OutputDir: filepath.Join(dir, "out"), JobID: "7", Stdout: out, Stderr: &bytes.Buffer{},
		CleanupTimeout: 20 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	res := Run(ctx, cfg)
	recs := out.records(t)
	if res.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", res, dump(recs))
	}
	got := results(recs)
	for k, v := range runtest.QemuResults {
		if got[k] == nil || got[k]["result"] != v {
			t.Errorf("result %s = %v, want %s", k, got[k], v)
		}
	}
	if m := got["1_inline-smoke/mem-total"]; m == nil || m["units"] != "kB" || m["measurement"] == nil {
		t.Errorf("measurement: %v", m)
	}
	if m := got["1_inline-smoke/loopback"]; m == nil || m["set"] != "network" {
		t.Errorf("test set: %v", m)
	}
	if m := got["lava/0_git-smoke"]; m == nil || m["repository"] != fx.RepoURL || m["commit_id"] != fx.Commit {
		t.Errorf("git definition result: %v", m)
	}
	if m := got["lava/compress-ramdisk"]; m == nil || fmt.Sprint(m["extra"]) != "map[applied:true]" {
		t.Errorf("the overlay was not added to the initramfs: %v", m)
	}
	if !strings.Contains(dump(recs), "-accel tcg") {
		t.Error("the boot command does not use TCG")
	}
}
