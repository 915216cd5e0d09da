package daemon

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golava/pkg/workerapi"
)

func TestJobLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config func(c *workerapi.JobConfig, cfg *Config)
		prefix string
		envDUT bool
		env    map[string]string // GOLAVA_* and PATH seen by lava-run
		finish workerapi.Finish  // Errors: a substring
	}{
		{
			name:   "pass",
			config: func(*workerapi.JobConfig, *Config) {},
			env:    map[string]string{fakeModeEnv: "pass", "PATH": os.Getenv("PATH")},
			finish: workerapi.Finish{Result: "pass", Errors: "warning: something odd\n"},
		},
		{
			name:   "infrastructure error",
			config: func(*workerapi.JobConfig, *Config) {},
			env:    map[string]string{fakeModeEnv: "infra", "PATH": os.Getenv("PATH")},
			finish: workerapi.Finish{Result: "fail", ErrorType: "Infrastructure"},
		},
		{
			name:   "crash without result",
			config: func(*workerapi.JobConfig, *Config) {},
			env:    map[string]string{fakeModeEnv: "noresult", "PATH": os.Getenv("PATH")},
			finish: workerapi.Finish{Result: "fail", ErrorType: "Bug", Errors: "LAVABug: crashed"},
		},
		{
			name: "prefix, env-dut, debug, no nice, removes",
			config: func(c *workerapi.JobConfig, cfg *Config) {
				c.Dispatcher = "prefix: lab-a-\n"
				c.EnvDUT = "overrides:\n  LANG: C\n"
				c.Env = "removes: [PATH]\noverrides:\n  " + fakeModeEnv + ": pass\n"
				cfg.Debug, cfg.Nice = true, false
			},
			prefix: "lab-a-",
			envDUT: true,
			env:    map[string]string{fakeModeEnv: "pass"},
			finish: workerapi.Finish{Result: "pass", Errors: "warning"},
		},
		{
			name: "purged environment",
			config: func(c *workerapi.JobConfig, cfg *Config) {
				c.Env = "purge: true\noverrides:\n  " + fakeModeEnv + ": pass\n  GOLAVA_NUMBER: 12\n"
			},
			env:    map[string]string{fakeModeEnv: "pass", "GOLAVA_NUMBER": "12"},
			finish: workerapi.Finish{Result: "pass", Errors: "warning"},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			id := int64(100 + i)
			jc := jobConfig(tt.env[fakeModeEnv])
			tt.config(&jc, &h.cfg)
			h.fs.addJob(id, jc)
			h.start()

			job := h.finished(id)
			if job.Fetches != 1 || job.Running != 1 || len(job.Ready) != 1 {
				t.Errorf("fetches %d, RUNNING posts %d, lava-runs %d; want 1 each", job.Fetches, job.Running, len(job.Ready))
			}
			got := job.Finish
			if got.Get("result") != tt.finish.Result || got.Get("error_type") != tt.finish.ErrorType ||
				!strings.Contains(got.Get("errors"), tt.finish.Errors) || got.Get("description") != "job:\n  actions: 3\n" {
				t.Errorf("finish %v, want %+v", got, tt.finish)
			}

			dir := h.jobDir(tt.prefix, id)
			want := []string{
				"--device=" + dir + "/device.yaml", "--dispatcher=" + dir + "/dispatcher.yaml",
				"--output-dir=" + dir, "--job-id=" + strconv.FormatInt(id, 10),
				"--url=" + h.fs.URL(), "--token=" + job.Token, "--job-log-interval=5",
			}
			if h.cfg.Debug {
				want = append(want, "--debug")
			}
			want = append(want, dir+"/job.yaml")
			if tt.envDUT {
				want = append(want, "--env-dut="+dir+"/env-dut.yaml")
			}
			rl := job.Ready[0]
			if !reflect.DeepEqual(rl.Args, want) {
				t.Errorf("lava-run arguments\n got %q\nwant %q", rl.Args, want)
			}
			if !reflect.DeepEqual(rl.Env, tt.env) {
				t.Errorf("lava-run environment %v, want %v", rl.Env, tt.env)
			}
			if rl.JobYAML != jc.Definition {
				t.Errorf("job.yaml %q, want %q", rl.JobYAML, jc.Definition)
			}
			eventually(t, "job dir removed and job forgotten", func() bool {
				_, err := os.Stat(dir)
				return errors.Is(err, fs.ErrNotExist) && len(h.jobsFile()) == 0
			})
		})
	}
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(h *harness)
		wantForm  url.Values // nil: no registration
		wantToken string
	}{
		{
			name: "anonymous, retried until accepted",
			setup: func(h *harness) {
				h.cfg.Token, h.fs.workerToken, h.fs.refuseRegs = "", "", 2
			},
			wantForm:  url.Values{"name": {workerName}},
			wantToken: "worker-token-0123456789abcdefghij",
		},
		{
			name: "with credentials",
			setup: func(h *harness) {
				h.cfg.Token, h.fs.workerToken = "", ""
				h.cfg.Username, h.cfg.Password = "admin", "secret"
			},
			wantForm:  url.Values{"name": {workerName}, "username": {"admin"}, "password": {"secret"}},
			wantToken: "worker-token-0123456789abcdefghij",
		},
		{
			name: "token file",
			setup: func(h *harness) {
				h.cfg.Token = ""
				h.cfg.TokenFile = filepath.Join(h.cfg.WorkerDir, "my-token")
				os.WriteFile(h.cfg.TokenFile, []byte(h.fs.workerToken+"\n"), 0o600)
			},
			wantToken: "worker-token-given\n",
		},
		{
			name:      "given token is saved",
			setup:     func(h *harness) {},
			wantToken: "worker-token-given",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tt.setup(h)
			h.start()
			h.fs.waitFor("an authenticated ping", func() bool {
				n := len(h.fs.pingTokens)
				return n > 0 && h.fs.pingTokens[n-1] == h.fs.workerToken && h.fs.workerToken != ""
			})

			h.fs.mu.Lock()
			regs := h.fs.registrations
			h.fs.mu.Unlock()
			switch {
			case tt.wantForm == nil && len(regs) != 0:
				t.Errorf("registered %v, want no registration", regs)
			case tt.wantForm != nil && (len(regs) == 0 || !reflect.DeepEqual(regs[len(regs)-1], tt.wantForm)):
				t.Errorf("registrations %v, want %v", regs, tt.wantForm)
			}
			file := h.cfg.TokenFile
			if file == "" {
				file = filepath.Join(h.cfg.WorkerDir, "token")
			}
			data, err := os.ReadFile(file)
			if err != nil || string(data) != tt.wantToken {
				t.Errorf("token file %q (%v), want %q", data, err, tt.wantToken)
			}
			if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("token file mode %v (%v), want 0600", st.Mode().Perm(), err)
			}
		})
	}
}

// A lava-run that dies, even by SIGKILL, is reported at once, not at the
// next ping (an hour away here).
func TestLavaRunKilledIsReportedPromptly(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fs.addJob(1, jobConfig("wait"))
	h.start()
	rl := h.ready(1, 1)
	if err := syscall.Kill(rl.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	job := h.finished(1)
	if job.Finish.Get("result") != "fail" || job.Finish.Get("error_type") != "Bug" {
		t.Errorf("finish %v, want fail / Bug", job.Finish)
	}
	h.fs.mu.Lock()
	pings := h.fs.pings
	h.fs.mu.Unlock()
	if pings != 1 {
		t.Errorf("%d pings, want the report without a second ping", pings)
	}
}

// The server restarts while a job ends: the report waits for it.
func TestServerDownDuringFinish(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.cfg.PingInterval = 20 * time.Millisecond
	h.fs.addJob(1, jobConfig("wait"))
	h.start()
	rl := h.ready(1, 1)
	h.fs.update(func() { h.fs.down = true })
	syscall.Kill(rl.PID, syscall.SIGUSR1)
	h.fs.waitFor("a refused end report", func() bool { return h.fs.finishFails > 0 })
	if j := h.jobsFile()[1]; j.Status != statusFinished {
		t.Errorf("job status %q while the server is down, want finished", j.Status)
	}
	h.fs.update(func() { h.fs.down = false })
	job := h.finished(1)
	if job.Finish.Get("result") != "pass" {
		t.Errorf("finish %v, want pass", job.Finish)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      string
		errorType string
		terms     int // at least this many SIGTERMs ignored
	}{
		{name: "lava-run stops on SIGTERM", mode: "wait", errorType: "Canceled"},
		{name: "SIGTERM again then SIGKILL", mode: "stubborn", errorType: "Bug", terms: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.cfg.PingInterval = 20 * time.Millisecond
			h.tm.cancelTerm, h.tm.cancelKill = 100*time.Millisecond, 500*time.Millisecond
			h.fs.addJob(1, jobConfig(tt.mode))
			h.start()
			h.ready(1, 1)
			h.fs.setState(1, "Canceling")
			job := h.finished(1)
			if job.Finish.Get("result") != "fail" || job.Finish.Get("error_type") != tt.errorType {
				t.Errorf("finish %v, want fail / %s", job.Finish, tt.errorType)
			}
			if n := strings.Count(job.Finish.Get("errors"), "ignoring SIGTERM"); n < tt.terms {
				t.Errorf("lava-run got %d SIGTERMs, want at least %d", n, tt.terms)
			}
		})
	}
	t.Run("unknown job", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.fs.addJob(1, jobConfig("pass"))
		h.fs.setState(1, "Canceling")
		h.start()
		job := h.finished(1)
		if job.Fetches != 0 || job.Finish.Get("result") != "fail" || job.Finish.Get("error_type") != "Bug" {
			t.Errorf("fetches %d, finish %v; want 0, fail / Bug", job.Fetches, job.Finish)
		}
	})
}

func TestVersionMismatch(t *testing.T) {
	t.Parallel()
	t.Run("exit", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.cfg.ExitOnVersionMismatch = true
		h.fs.mismatch = true
		err := h.start().wait()
		if !errors.Is(err, workerapi.ErrVersionMismatch) {
			t.Fatalf("Run returned %v, want a version mismatch", err)
		}
	})
	t.Run("keep pinging", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.cfg.PingInterval = 10 * time.Millisecond
		h.fs.mismatch = true
		r := h.start()
		h.fs.waitFor("three pings", func() bool { return h.fs.pings >= 3 })
		if err := r.stop(); err != nil {
			t.Fatalf("Run returned %v, want nil", err)
		}
	})
}

// An event naming this worker makes it ping at once (the interval is an
// hour), also after the event stream was cut and reconnected. The
// heartbeat stays at 30 s: a short one replaces the stream whenever a pong
// is late on a loaded machine, and an event sent meanwhile is lost.
func TestWebSocketEventTriggersPing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.start()
	h.fs.waitFor("first ping and event stream", func() bool { return h.fs.pings == 1 && len(h.fs.wsConns) == 1 })

	h.fs.addJob(7, jobConfig("pass"))
	h.fs.publishJob(7, "Scheduled", workerName)
	h.finished(7)

	h.fs.mu.Lock()
	h.fs.wsConns[0].CloseNow()
	h.fs.mu.Unlock()
	h.fs.waitFor("event stream reconnected", func() bool { return len(h.fs.wsConns) == 2 })
	h.fs.addJob(8, jobConfig("wait"))
	h.fs.publishJob(8, "Scheduled", workerName)
	h.ready(8, 1)
	h.fs.setState(8, "Canceling")
	h.fs.publishJob(8, "Canceling", workerName)
	if job := h.finished(8); job.Finish.Get("error_type") != "Canceled" {
		t.Errorf("finish %v, want Canceled", job.Finish)
	}
}

// A stream whose pings go unanswered (dropped silently on the way) is
// replaced.
func TestWebSocketHeartbeat(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.fs.wsDeaf = true
	h.tm.wsHeartbeat = 10 * time.Millisecond
	h.start()
	h.fs.waitFor("dead event stream replaced", func() bool { return len(h.fs.wsConns) >= 2 })
}

// A restarted worker knows the jobs of the one before.
func TestRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// between runs, given the first lava-run's pid
		between func(t *testing.T, h *harness, pid int)
		runs    int // lava-runs started in all
		// RUNNING posts in all: the new worker posts one when it takes
		// charge of a lava-run the jobs table did not list.
		running int
		gone    bool // no lava-run left to end after the restart
	}{
		{
			name:    "running job is adopted",
			between: func(*testing.T, *harness, int) {},
			runs:    1, running: 1,
		},
		{
			name: "job ended while the worker was down",
			between: func(t *testing.T, h *harness, pid int) {
				syscall.Kill(pid, syscall.SIGUSR1)
				eventually(t, "lava-run gone", func() bool { return cmdline(pid) == nil })
			},
			runs: 1, running: 1, gone: true,
		},
		{
			name: "jobs table lost: the running lava-run is found and adopted",
			between: func(t *testing.T, h *harness, pid int) {
				os.Remove(filepath.Join(h.cfg.WorkerDir, "jobs.json"))
			},
			runs: 1, running: 2,
		},
		{
			name: "jobs table lost: the server's running job is started again",
			between: func(t *testing.T, h *harness, pid int) {
				syscall.Kill(pid, syscall.SIGKILL)
				eventually(t, "lava-run gone", func() bool { return cmdline(pid) == nil })
				os.Remove(filepath.Join(h.cfg.WorkerDir, "jobs.json"))
			},
			runs: 2, running: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.fs.addJob(1, jobConfig("wait"))
			first := h.start()
			rl := h.ready(1, 1)
			// Stopped before its RUNNING post lands, the first worker
			// would leave the job Scheduled and the counts below vary.
			h.fs.waitFor("job 1 running", func() bool { return h.fs.jobs[1].Running == 1 })
			if err := first.stop(); err != nil {
				t.Fatal(err)
			}
			if j := h.jobsFile()[1]; j.PID != rl.PID || j.Status != statusRunning || j.Token != h.fs.job(1).Token {
				t.Fatalf("jobs.json has %+v, want job 1 running as pid %d", j, rl.PID)
			}
			tt.between(t, h, rl.PID)

			h.fs.mu.Lock()
			pings := h.fs.pings
			h.fs.mu.Unlock()
			h.start()
			h.fs.waitFor("ping of the new worker", func() bool { return h.fs.pings > pings })
			last := h.ready(1, tt.runs)
			// The ping is counted before the worker reads the reply: a
			// lava-run ended before the worker looks for it would rightly
			// be started again. A lava-run listed in jobs.json is adopted
			// before the first ping; one found or started is announced.
			h.fs.waitFor("the new worker in charge of the lava-run", func() bool { return h.fs.jobs[1].Running >= tt.running })
			if !tt.gone {
				// Only a live lava-run: the pid of a gone one may be reused.
				syscall.Kill(last.PID, syscall.SIGUSR1)
			}
			job := h.finished(1)
			if job.Finish.Get("result") != "pass" {
				t.Errorf("finish %v, want pass", job.Finish)
			}
			if len(job.Ready) != tt.runs || job.Running != tt.running {
				t.Errorf("%d lava-runs, %d RUNNING posts; want %d, %d", len(job.Ready), job.Running, tt.runs, tt.running)
			}
		})
	}
}

// With WaitJobs, a stopped worker reports its jobs before Run returns.
func TestWaitJobs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.cfg.WaitJobs = true
	h.fs.addJob(1, jobConfig("wait"))
	r := h.start()
	rl := h.ready(1, 1)
	r.cancel()
	syscall.Kill(rl.PID, syscall.SIGUSR1)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if job := h.fs.job(1); job.State != "Finished" || job.Finish.Get("result") != "pass" {
		t.Errorf("job %s %v when Run returned, want reported as pass", job.State, job.Finish)
	}
}

func TestStartFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(h *harness)
		fetches int
		result  string
		errors  string
	}{
		{
			name:    "configuration refused once: fetched again at the next ping",
			setup:   func(h *harness) { h.fs.configFails = 1 },
			fetches: 2, result: "pass", errors: "warning",
		},
		{
			name:    "lava-run missing: reported as a failure",
			setup:   func(h *harness) { h.cfg.LavaRun = filepath.Join(t.TempDir(), "no-lava-run") },
			fetches: 1, result: "fail", errors: "find lava-run",
		},
		{
			name: "bad environment: reported as a failure",
			setup: func(h *harness) {
				h.fs.update(func() { h.fs.jobs[1].Config.Env = "overrides: [\n" })
			},
			fetches: 1, result: "fail", errors: "env.yaml",
		},
		{
			name: "prefix escaping the worker dir: reported as a failure",
			setup: func(h *harness) {
				h.fs.update(func() { h.fs.jobs[1].Config.Dispatcher = "prefix: ../\n" })
			},
			fetches: 1, result: "fail", errors: "not a file name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.cfg.PingInterval = 20 * time.Millisecond
			h.fs.addJob(1, jobConfig("pass"))
			tt.setup(h)
			h.start()
			job := h.finished(1)
			if job.Fetches != tt.fetches || job.Finish.Get("result") != tt.result ||
				!strings.Contains(job.Finish.Get("errors"), tt.errors) {
				t.Errorf("fetches %d, finish %v; want %d fetches, %s with errors %q", job.Fetches, job.Finish, tt.fetches, tt.result, tt.errors)
			}
			if tt.result == "fail" && job.Finish.Get("error_type") != "Bug" {
				t.Errorf("error_type %q, want Bug", job.Finish.Get("error_type"))
			}
		})
	}
}

// An all-in-one lab stops its jobs with it: SIGTERM, then SIGKILL for a
// lava-run that ignores it.
func TestStopJobsOnExit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"wait", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.cfg.StopJobsOnExit = true
			h.cfg.StopGrace = 300 * time.Millisecond
			h.fs.addJob(1, jobConfig(mode))
			r := h.start()
			rl := h.ready(1, 1)
			if !h.ownLavaRun(rl.PID) {
				t.Fatalf("pid %d is not the running lava-run", rl.PID)
			}
			if err := r.stop(); err != nil {
				t.Fatal(err)
			}
			if h.ownLavaRun(rl.PID) {
				t.Fatalf("lava-run %d still alive after Run returned", rl.PID)
			}
		})
	}
}
