package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golava/pkg/workerapi"
)

// fakeModeEnv switches the test binary into a fake lava-run; the fake
// server sets it through the job's env YAML, so it also checks that the
// worker builds lava-run's environment from it.
const fakeModeEnv = "GOLAVA_FAKE_LAVA_RUN"

// fakeLavaRun is a symlink named lava-run to this test binary, so that the
// worker's "/proc/<pid>/cmdline contains lava-run" check recognises it.
var fakeLavaRun string

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeModeEnv); mode != "" {
		os.Exit(runFakeLavaRun(mode, os.Args[1:]))
	}
	// The fake reports every GOLAVA_ variable lava-run gets; those make
	// test exports for other packages (GOLAVA_S3GW) are not the worker's.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "GOLAVA_") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "golava-worker-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	exe, err := os.Executable()
	if err == nil {
		fakeLavaRun = filepath.Join(dir, "lava-run")
		err = os.Symlink(exe, fakeLavaRun)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runFakeLavaRun plays lava-run: it reports its pid, arguments and
// environment as its first log line, then behaves as mode says:
//
//	pass      result pass, exit 0
//	infra     result fail / Infrastructure, exit 1
//	noresult  a traceback on stderr and no result.yaml, exit 3 (a crash)
//	wait      wait for SIGUSR1 (then pass) or SIGTERM (then fail / Canceled)
//	stubborn  log and ignore every SIGTERM, wait for SIGKILL
func runFakeLavaRun(mode string, args []string) int {
	opts := map[string]string{}
	var jobFile string
	for _, a := range args {
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "--") {
			opts[k] = v
		} else if !strings.HasPrefix(a, "--") {
			jobFile = a
		}
	}
	dir := opts["--output-dir"]
	// Signals are set up before reporting ready, so the test may signal
	// as soon as it sees the report.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGUSR1)
	if err := postReady(opts, jobFile); err != nil {
		fmt.Fprintln(os.Stderr, "fake lava-run:", err)
		return 2
	}
	os.WriteFile(filepath.Join(dir, fileDescription), []byte("job:\n  actions: 3\n"), 0o644)
	writeResult := func(res string) {
		os.WriteFile(filepath.Join(dir, fileResult), []byte("definition: lava\ncase: job\n"+res), 0o644)
	}
	switch mode {
	case "pass":
		fmt.Fprintln(os.Stderr, "warning: something odd")
		writeResult("result: pass\n")
		return 0
	case "infra":
		writeResult("result: fail\nerror_msg: power failed\nerror_type: Infrastructure\n")
		return 1
	case "noresult":
		fmt.Fprintln(os.Stderr, "Traceback (most recent call last):\nLAVABug: crashed")
		return 3
	case "wait":
		if <-sigs == syscall.SIGUSR1 {
			writeResult("result: pass\n")
			return 0
		}
		writeResult("result: fail\nerror_msg: job canceled\nerror_type: Canceled\n")
		return 1
	case "stubborn":
		for range sigs {
			fmt.Fprintln(os.Stderr, "ignoring SIGTERM")
		}
	}
	return 2
}

// postReady posts the ready line as a job log upload, with the job token.
func postReady(opts map[string]string, jobFile string) error {
	job, err := os.ReadFile(jobFile)
	if err != nil {
		return err
	}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "GOLAVA_") || k == "PATH") {
			env[k] = v
		}
	}
	line, _ := json.Marshal(readyLine{PID: os.Getpid(), Args: os.Args[1:], Env: env, JobYAML: string(job)})
	form := url.Values{"lines": {"- " + string(line)}, "index": {"0"}}
	req, err := http.NewRequest(http.MethodPost,
		opts["--url"]+workerapi.Prefix+"jobs/"+opts["--job-id"]+"/logs/", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(workerapi.TokenHeader, opts["--token"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("post ready: HTTP %d", resp.StatusCode)
	}
	return nil
}
