package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/pkg/logfmt"
)

// logBuffer collects lava-run's stdout and tells when a text appeared.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	watch   string
	matched chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.watch != "" && strings.Contains(b.buf.String(), b.watch) {
		b.watch = ""
		close(b.matched)
	}
	return len(p), nil
}

func (b *logBuffer) records(t *testing.T) []logfmt.Line {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []logfmt.Line
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		rec, err := logfmt.Decode(l)
		if err != nil {
			t.Fatalf("bad log line %q: %v", l, err)
		}
		out = append(out, rec)
	}
	return out
}

type fixture struct {
	dir    string
	cfg    Config
	out    *logBuffer
	rootfs string
	sum    string
}

// setup writes a device for the fake board in mode and returns a config.
func setup(t *testing.T, mode string) *fixture {
	t.Helper()
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "rootfs.img")
	content := []byte("not really a root file system\n")
	if err := os.WriteFile(rootfs, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	power := filepath.Join(dir, "power.log")
	device := fmt.Sprintf(`device_type: fake
constants:
  posix:
    lava_test_results_dir: %s/lava-%%s
commands:
  connect: %s=%s %s
  power_on: echo on >> %s
  power_off: [echo off >> %s]
timeouts:
  connection: {seconds: 10}
`, dir, boardEnv, mode, exe, power, power)
	write(t, filepath.Join(dir, "device.yaml"), device)
	out := &logBuffer{matched: make(chan struct{})}
	return &fixture{
		dir: dir, out: out, rootfs: rootfs, sum: hex.EncodeToString(sum[:]),
		cfg: Config{
			JobPath: filepath.Join(dir, "job.yaml"), DevicePath: filepath.Join(dir, "device.yaml"),
			DispatcherPath: filepath.Join(dir, "missing-dispatcher.yaml"),
			OutputDir:      filepath.Join(dir, "out"), JobID: "42",
			Stdout: out, Stderr: &bytes.Buffer{}, CleanupTimeout: 10 * time.Second,
		},
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

const jobTemplate = `job_name: fake smoke
device_type: fake
visibility: public
priority: medium
timeouts:
  job: {seconds: %d}
  action: {seconds: %d}
actions:
- deploy:
    to: tmpfs
    images:
      rootfs:
        url: file://%s
        sha256sum: '%s'
- boot:
    method: minimal
    auto_login:
      login_prompt: 'fake login:'
      username: root
      login_commands: [export GOLAVA_LOGIN=yes]
    prompts: ['root@fake:~# ']
    timeout: {seconds: %d}
- test:
    timeout: {seconds: %d}
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: smoke
          description: two cases
        run:
          steps:
          - lava-test-case pass-case --result pass
          - lava-test-case fail-case --result fail
          - lava-test-case speed --result pass --measurement 1.5 --units s
          - test "$GOLAVA_GREETING" = "hello world" && lava-test-case env-dut --result pass
          - test "$GOLAVA_LOGIN" = yes && lava-test-case login-commands --result pass
          - echo '<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=echoed RESULT=pass>' | sed 's/^/x/'
    - from: inline
      name: parsed
      path: inline/parsed.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: parsed
          description: results from parse.pattern
        run:
          steps:
          - 'printf "boot_time: %%s 3.5\nprobe: %%s\n" OK BAD'
        parse:
          pattern: '^(?P<test_case_id>\w+): (?P<result>OK|BAD)( (?P<measurement>[0-9.]+))?'
          fixupdict:
            OK: pass
            BAD: fail
`

func (f *fixture) job(t *testing.T, jobTimeout, bootTimeout int, sum string) {
	t.Helper()
	if sum == "" {
		sum = f.sum
	}
	write(t, f.cfg.JobPath, fmt.Sprintf(jobTemplate, jobTimeout, min(30, jobTimeout), f.rootfs, sum, min(bootTimeout, jobTimeout), min(60, jobTimeout)))
}

// results returns the msg maps of results lines, keyed "definition/case".
func results(recs []logfmt.Line) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, r := range recs {
		if m, ok := r.Msg.(map[string]any); ok && r.Lvl == logfmt.LevelResults {
			out[fmt.Sprint(m["definition"], "/", m["case"])] = m
		}
	}
	return out
}

func (f *fixture) powerLog(t *testing.T) []string {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(f.dir, "power.log"))
	return strings.Fields(string(data))
}

func (f *fixture) resultFile(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.cfg.OutputDir, "result.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunPass(t *testing.T) {
	t.Parallel()
	f := setup(t, "ok")
	f.job(t, 120, 30, "")
	f.cfg.EnvDUTPath = filepath.Join(f.dir, "env-dut.yaml")
	write(t, f.cfg.EnvDUTPath, "overrides:\n  GOLAVA_GREETING: hello world\n")
	out := Run(context.Background(), f.cfg)
	recs := f.out.records(t)
	if out.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", out, dump(recs))
	}
	res := results(recs)
	want := map[string]string{
		"0_smoke/pass-case": "pass", "0_smoke/fail-case": "fail", "0_smoke/speed": "pass",
		"lava/0_smoke": "pass", "lava/job": "pass", "lava/validate": "pass",
		"lava/minimal-boot": "pass", "lava/auto-login-action": "pass", "lava/lava-test-shell": "pass",
		"lava/download-retry": "pass", "lava/power-off": "pass", "0_smoke/env-dut": "pass", "0_smoke/login-commands": "pass",
		"1_parsed/boot_time": "pass", "1_parsed/probe": "fail", "lava/1_parsed": "pass",
	}
	for k, v := range want {
		if got := res[k]; got == nil || got["result"] != v {
			t.Errorf("result %s = %v, want %s", k, got, v)
		}
	}
	if _, ok := res["0_smoke/echoed"]; ok {
		t.Error("a signal inside a line was taken as a result")
	}
	if m := res["1_parsed/boot_time"]; m["measurement"] != 3.5 {
		t.Errorf("pattern measurement = %v", m)
	}
	if m := res["0_smoke/speed"]; m["measurement"] != 1.5 || m["units"] != "s" {
		t.Errorf("measurement = %v", m)
	}
	if last := recs[len(recs)-1]; last.Lvl != logfmt.LevelResults || fmt.Sprint(last.Msg.(map[string]any)["case"]) != "job" {
		t.Errorf("last line = %+v", last)
	}
	if p := f.powerLog(t); strings.Join(p, " ") != "off on off" {
		t.Errorf("power sequence = %v", p)
	}
	if r := f.resultFile(t); r["result"] != "pass" || r["definition"] != "lava" || r["case"] != "job" {
		t.Errorf("result.yaml = %v", r)
	}
	desc, err := os.ReadFile(filepath.Join(f.cfg.OutputDir, "description.yaml"))
	if err != nil || !strings.Contains(string(desc), "level: \"2.3\"") || !strings.Contains(string(desc), "auto-login-action") {
		t.Errorf("description.yaml: %v\n%s", err, desc)
	}
	if out.ExitCode() != 0 {
		t.Error("exit code for pass")
	}
}

func TestRunFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		mode                    string
		jobTimeout, bootTimeout int
		sum                     string
		wantType, wantMsg       string
		wantPower               string
		edit                    func(job string) string
	}{
		{"hang at boot", "hang", 120, 3, "", TypeJob, "auto-login-action timed out after", "off on off", nil},
		{"job timeout", "hang", 4, 60, "", TypeJob, "job timed out after 4 seconds", "off on off", nil},
		{"kernel panic", "panic", 120, 60, "", TypeJob, "Kernel panic - not syncing: VFS: Unable to mount root fs", "off on off", nil},
		{"connection drop", "drop", 120, 60, "", TypeInfrastructure, "Connection closed", "off on off", nil},
		{"checksum", "ok", 120, 60, strings.Repeat("0", 64), TypeJob, "rootfs: sha256sum mismatch", "off", nil},
		{"failure message", "hang", 120, 60, "", TypeJob, "Matched job-specific failure message: 'waiting for root'", "off on off",
			func(job string) string {
				return strings.Replace(job, "    method: minimal\n", "    method: minimal\n    failure_message: waiting for root\n", 1)
			}},
		{"interactive", "ok", 120, 60, "", TypeJob, "interactive: a list of scripts is required", "",
			func(job string) string {
				return job[:strings.Index(job, "    definitions:")] + "    interactive: []\n"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, tt.mode)
			f.job(t, tt.jobTimeout, tt.bootTimeout, tt.sum)
			if tt.edit != nil {
				data, _ := os.ReadFile(f.cfg.JobPath)
				write(t, f.cfg.JobPath, tt.edit(string(data)))
			}
			out := Run(context.Background(), f.cfg)
			recs := f.out.records(t)
			if out.Result != "fail" || out.ErrorType != tt.wantType || !strings.Contains(out.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v, want %s %q\n%s", out, tt.wantType, tt.wantMsg, dump(recs))
			}
			if p := strings.Join(f.powerLog(t), " "); p != tt.wantPower {
				t.Errorf("power sequence = %q, want %q", p, tt.wantPower)
			}
			r := f.resultFile(t)
			if r["result"] != "fail" || r["error_type"] != tt.wantType {
				t.Errorf("result.yaml = %v", r)
			}
			if job := results(recs)["lava/job"]; job == nil || job["error_type"] != tt.wantType {
				t.Errorf("lava/job result = %v", job)
			}
		})
	}
}

func TestRunTestShellFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, step        string
		wantType, wantMsg string
		wantResults       map[string]string
	}{
		{"timeout", "sleep 1000", TypeTest, "lava-test-shell timed out after",
			map[string]string{"lava/0_smoke": "fail", "0_smoke/pass-case": "pass"}},
		{"raise", "lava-test-raise disk is full", TypeTest, "disk is full",
			map[string]string{"lava/0_smoke": "fail"}},
		{"install fail", "", TypeTest, "Unable to start test stage 0",
			map[string]string{"lava/stage_0": "fail"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, "ok")
			job := fmt.Sprintf(jobTemplate, 120, 30, f.rootfs, f.sum, 30, 3)
			if tt.step != "" {
				job = strings.Replace(job, "          - lava-test-case fail-case --result fail\n", "          - "+tt.step+"\n", 1)
			} else {
				job = strings.Replace(job, "        run:\n", "        install:\n          steps: [exit 3]\n        run:\n", 1)
			}
			write(t, f.cfg.JobPath, job)
			out := Run(context.Background(), f.cfg)
			recs := f.out.records(t)
			if out.ErrorType != tt.wantType || !strings.Contains(out.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v\n%s", out, dump(recs))
			}
			res := results(recs)
			for k, v := range tt.wantResults {
				if res[k] == nil || res[k]["result"] != v {
					t.Errorf("%s = %v, want %s", k, res[k], v)
				}
			}
			if p := strings.Join(f.powerLog(t), " "); p != "off on off" {
				t.Errorf("power sequence = %q", p)
			}
		})
	}
}

func TestRunSkipTimeout(t *testing.T) {
	t.Parallel()
	f := setup(t, "ok")
	job := fmt.Sprintf(jobTemplate, 120, 30, f.rootfs, f.sum, 30, 3)
	job = strings.Replace(job, "          - lava-test-case fail-case --result fail\n", "          - sleep 1000\n", 1)
	job = strings.Replace(job, "    timeout: {seconds: 3}\n", "    timeout: {seconds: 3, skip: true}\n", 1)
	write(t, f.cfg.JobPath, job)
	out := Run(context.Background(), f.cfg)
	recs := f.out.records(t)
	if out.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", out, dump(recs))
	}
	if r := results(recs)["lava/lava-test-shell"]; r == nil || r["result"] != "fail" {
		t.Errorf("lava-test-shell = %v", r)
	}
}

func TestRunPassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ password, result, errType string }{
		{"secret", "pass", ""},
		{"wrong", "fail", TypeJob},
	} {
		t.Run(tt.password, func(t *testing.T) {
			t.Parallel()
			f := setup(t, "password")
			f.job(t, 120, 30, "")
			data, _ := os.ReadFile(f.cfg.JobPath)
			job := strings.Replace(string(data), "      username: root\n",
				"      username: root\n      password_prompt: 'Password:'\n      password: "+tt.password+"\n", 1)
			write(t, f.cfg.JobPath, job)
			out := Run(context.Background(), f.cfg)
			if out.Result != tt.result || out.ErrorType != tt.errType {
				t.Fatalf("outcome %+v\n%s", out, dump(f.out.records(t)))
			}
			if tt.result == "fail" && out.ErrorMsg != "Login incorrect" {
				t.Errorf("error_msg = %q", out.ErrorMsg)
			}
		})
	}
}

func TestRunCancel(t *testing.T) {
	t.Parallel()
	f := setup(t, "hang")
	f.job(t, 120, 60, "")
	f.out.watch = "auto-login-action (timeout"
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan Outcome, 1)
	go func() { done <- Run(ctx, f.cfg) }()
	select {
	case <-f.out.matched:
	case <-time.After(30 * time.Second):
		t.Fatal("board never booted")
	}
	cancel(ErrCanceled)
	var out Outcome
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if out.ErrorType != TypeCanceled {
		t.Fatalf("outcome %+v", out)
	}
	if p := strings.Join(f.powerLog(t), " "); p != "off on off" {
		t.Errorf("power sequence = %q", p)
	}
}

func TestRunBadInput(t *testing.T) {
	t.Parallel()
	f := setup(t, "ok")
	write(t, f.cfg.JobPath, "job_name: x\nactions: 3\n")
	out := Run(context.Background(), f.cfg)
	if out.ErrorType != TypeJob || !strings.Contains(out.ErrorMsg, "Invalid job definition") {
		t.Fatalf("outcome %+v", out)
	}
	write(t, f.cfg.DevicePath, "commands: [")
	f.job(t, 10, 10, "")
	out = Run(context.Background(), f.cfg)
	if out.ErrorType != TypeConfiguration {
		t.Fatalf("outcome %+v", out)
	}
}

func dump(recs []logfmt.Line) string {
	var b strings.Builder
	for _, r := range recs {
		fmt.Fprintf(&b, "%s %v\n", r.Lvl, r.Msg)
	}
	return b.String()
}
