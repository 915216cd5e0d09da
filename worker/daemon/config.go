package daemon

import (
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultWorkerDir is where LAVA keeps a worker's token, jobs and job dirs.
const DefaultWorkerDir = "/var/lib/lava/dispatcher/worker"

// Config configures the daemon. Zero fields take the defaults noted.
type Config struct {
	// Name of the worker on the server; required (the flag defaults it to
	// the host name).
	Name string
	// URL is the server root, e.g. http://lava.example.com; required.
	URL string
	// WSURL is the event WebSocket that wakes the worker up; default URL+"/ws/".
	WSURL string
	// Token, TokenFile, Username and Password select how the worker
	// authenticates: with Username it registers with those credentials;
	// with Token it uses that token; else it reads TokenFile (default
	// <WorkerDir>/token), and registers anonymously when it is absent or
	// empty. A token obtained or given is written to TokenFile (0600).
	Token, TokenFile, Username, Password string
	// WorkerDir holds the token, jobs.json and the job dirs (tmp/);
	// default DefaultWorkerDir.
	WorkerDir string
	// DownloadDir is lava-run's download dir; the report of a job also
	// removes <DownloadDir>/<prefix><id> there, as LAVA does. Empty skips it.
	DownloadDir string
	// PingInterval between two pings; default 20 s. A WebSocket event
	// naming this worker cuts it short.
	PingInterval time.Duration
	// HTTPTimeout bounds one HTTP call to the server; default 10 min,
	// longer than the server's own request timeout.
	HTTPTimeout time.Duration
	// LavaRun is the lava-run binary: a path, or a name looked up in PATH;
	// default "lava-run". Its command line must contain "lava-run" for a
	// restarted worker to recognise it.
	LavaRun string
	// JobLogInterval is lava-run's --job-log-interval in seconds; default 5.
	JobLogInterval int
	// Debug passes --debug to lava-run.
	Debug bool
	// ExitOnVersionMismatch makes Run return an error matching
	// workerapi.ErrVersionMismatch when the server answers 409; otherwise
	// the worker keeps pinging at the normal interval.
	ExitOnVersionMismatch bool
	// WaitJobs makes Run, once its context is done, keep reporting until
	// every job has ended and been reported.
	WaitJobs bool
	// StopJobsOnExit sends SIGTERM to every running lava-run when Run's
	// context ends (SIGKILL after StopGrace), for an all-in-one lab whose
	// boards go away with it. The jobs are reported by the next worker start.
	StopJobsOnExit bool
	// StopGrace is how long StopJobsOnExit waits before SIGKILL; default 20 s.
	StopGrace time.Duration
	// Nice runs lava-run under nice(1), as LAVA does, so that everything it
	// spawns yields to the worker. The flag and DefaultConfig set it.
	Nice bool
	// OnJobEnd, if set, is called once a job's end is reported, with
	// lava-run's result and the job dir just before it is removed (the
	// worker's metrics read lava-run's metrics file there).
	OnJobEnd func(jobID int64, result, dir string)
}

// DefaultConfig returns the defaults of the lava-worker flags; Name and URL
// are left to the caller.
func DefaultConfig() Config {
	return Config{
		WorkerDir:      DefaultWorkerDir,
		PingInterval:   20 * time.Second,
		HTTPTimeout:    10 * time.Minute,
		LavaRun:        "lava-run",
		JobLogInterval: 5,
		Nice:           true,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	c.URL = strings.TrimRight(c.URL, "/")
	if c.WSURL == "" {
		c.WSURL = c.URL + "/ws/"
	}
	if c.WorkerDir == "" {
		c.WorkerDir = d.WorkerDir
	}
	if c.TokenFile == "" {
		c.TokenFile = c.WorkerDir + "/token"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = d.PingInterval
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = d.HTTPTimeout
	}
	if c.LavaRun == "" {
		c.LavaRun = d.LavaRun
	}
	if c.JobLogInterval <= 0 {
		c.JobLogInterval = d.JobLogInterval
	}
	return c
}

// timings are the fixed delays of the protocol; tests shorten them.
type timings struct {
	retry       time.Duration // after a 5xx or connection error on ping (~1 s)
	register    time.Duration // between two registration attempts (5 s)
	cancelTerm  time.Duration // second SIGTERM to a canceled job (60 s)
	cancelKill  time.Duration // SIGKILL to a canceled job (120 s)
	adoptPoll   time.Duration // liveness poll of a lava-run we did not spawn
	wsReconnect time.Duration // before reconnecting the WebSocket (1 s)
	wsHeartbeat time.Duration // WebSocket ping period (30 s)
}

func defaultTimings() timings {
	return timings{
		retry:       time.Second,
		register:    5 * time.Second,
		cancelTerm:  60 * time.Second,
		cancelKill:  120 * time.Second,
		adoptPoll:   time.Second,
		wsReconnect: time.Second,
		wsHeartbeat: 30 * time.Second,
	}
}

// jitter spreads the pings of many workers started together: ±5 % of d.
func jitter(d time.Duration) time.Duration {
	span := int64(d / 10)
	if span <= 0 {
		return d
	}
	return d - time.Duration(span/2) + time.Duration(rand.Int64N(span))
}
