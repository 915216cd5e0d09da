package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/events"
	"golava/pkg/workerapi"
)

// fakeServer speaks the server side of the worker protocol, the way LAVA's
// views do, over a real HTTP listener, and records what the worker did.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu            sync.Mutex
	changed       chan struct{} // closed and replaced on every change
	workerName    string
	workerToken   string
	refuseRegs    int // answer 403 to this many registrations first
	registrations []url.Values
	pings         int
	pingTokens    []string
	down          bool // answer 503 to everything
	mismatch      bool // answer 409 to pings
	finishFails   int  // FINISHED posts refused while down
	configFails   int  // answer 500 to this many GET jobs/<id>/ first
	jobs          map[int64]*fakeJob
	wsConns       []*websocket.Conn
	wsDeaf        bool          // never read WebSockets, so pings go unanswered
	quit          chan struct{} // closed when the test ends
}

// fakeJob is a job as the server sees it.
type fakeJob struct {
	ID      int64
	Token   string
	Config  workerapi.JobConfig
	State   string // Scheduled, Running, Canceling, Finished
	Fetches int    // GET jobs/<id>/
	Running int    // state=RUNNING posts
	Finish  url.Values
	Ready   []readyLine // one per lava-run started
}

// readyLine is what the fake lava-run posts as its first log line.
type readyLine struct {
	PID     int               `json:"pid"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env"`
	JobYAML string            `json:"job_yaml"`
}

func newFakeServer(t *testing.T, name string) *fakeServer {
	fs := &fakeServer{t: t, changed: make(chan struct{}), workerName: name, jobs: map[int64]*fakeJob{}, quit: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+workerapi.Prefix+"workers/", fs.register)
	mux.HandleFunc("GET "+workerapi.Prefix+"workers/{name}/", fs.ping)
	mux.HandleFunc("GET "+workerapi.Prefix+"jobs/{id}/", fs.jobConfig)
	mux.HandleFunc("POST "+workerapi.Prefix+"jobs/{id}/", fs.jobState)
	mux.HandleFunc("POST "+workerapi.Prefix+"jobs/{id}/logs/", fs.jobLogs)
	mux.HandleFunc("/ws/", fs.websocket)
	fs.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(fs.quit)
		fs.mu.Lock()
		for _, c := range fs.wsConns {
			c.CloseNow()
		}
		fs.mu.Unlock()
		fs.srv.Close()
	})
	return fs
}

func (fs *fakeServer) URL() string { return fs.srv.URL }

// update runs f under the lock and wakes the waiters.
func (fs *fakeServer) update(f func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f()
	close(fs.changed)
	fs.changed = make(chan struct{})
}

// waitFor waits until cond (run under the lock) holds.
func (fs *fakeServer) waitFor(what string, cond func() bool) {
	fs.t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		fs.mu.Lock()
		ok, ch := cond(), fs.changed
		fs.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			fs.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// addJob queues a job for the worker, in state Scheduled.
func (fs *fakeServer) addJob(id int64, cfg workerapi.JobConfig) {
	fs.update(func() {
		fs.jobs[id] = &fakeJob{ID: id, Token: "job-token-" + strconv.FormatInt(id, 10), Config: cfg, State: "Scheduled"}
	})
}

func (fs *fakeServer) job(id int64) fakeJob {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return *fs.jobs[id]
}

func (fs *fakeServer) setState(id int64, state string) {
	fs.update(func() { fs.jobs[id].State = state })
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func replyError(w http.ResponseWriter, code int, msg string) {
	reply(w, code, workerapi.ErrorReply{Error: msg})
}

func (fs *fakeServer) register(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	fs.update(func() {
		fs.registrations = append(fs.registrations, r.PostForm)
		switch {
		case fs.down:
			replyError(w, 503, "down")
		case r.PostForm.Get("name") == "":
			replyError(w, 400, "Missing 'name'")
		case fs.refuseRegs > 0:
			fs.refuseRegs--
			replyError(w, 403, "Auto registration is disabled")
		default:
			fs.workerToken = "worker-token-0123456789abcdefghij"
			reply(w, 200, workerapi.Registration{Name: r.PostForm.Get("name"), Token: fs.workerToken})
		}
	})
}

func (fs *fakeServer) ping(w http.ResponseWriter, r *http.Request) {
	fs.update(func() {
		fs.pings++
		fs.pingTokens = append(fs.pingTokens, r.Header.Get(workerapi.TokenHeader))
		switch {
		case fs.down:
			replyError(w, 503, "down")
			return
		case r.PathValue("name") != fs.workerName:
			replyError(w, 404, "Unknown worker '"+r.PathValue("name")+"'")
			return
		case r.Header.Get(workerapi.TokenHeader) != fs.workerToken:
			replyError(w, 400, "Invalid 'token'")
			return
		case r.URL.Query().Get("version") != workerapi.Version:
			replyError(w, 400, "Missing 'version'")
			return
		case fs.mismatch:
			replyError(w, 409, "Version mismatch '"+workerapi.Version+"' vs '2099.01'")
			return
		}
		out := workerapi.PingReply{Cancel: []workerapi.JobRef{}, Running: []workerapi.JobRef{}, Start: []workerapi.JobRef{}}
		for _, j := range fs.jobs {
			ref := workerapi.JobRef{ID: j.ID, Token: j.Token}
			switch j.State {
			case "Scheduled":
				out.Start = append(out.Start, ref)
			case "Running":
				out.Running = append(out.Running, ref)
			case "Canceling":
				out.Cancel = append(out.Cancel, ref)
			}
		}
		reply(w, 200, out)
	})
}

// jobFor checks the job token like LAVA's views; nil means replied.
func (fs *fakeServer) jobFor(w http.ResponseWriter, r *http.Request) *fakeJob {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	j := fs.jobs[id]
	switch {
	case fs.down:
		replyError(w, 503, "down")
	case j == nil:
		replyError(w, 404, "Unknown job '"+r.PathValue("id")+"'")
	case r.Header.Get(workerapi.TokenHeader) != j.Token:
		replyError(w, 400, "Invalid 'token'")
	default:
		return j
	}
	return nil
}

func (fs *fakeServer) jobConfig(w http.ResponseWriter, r *http.Request) {
	fs.update(func() {
		if j := fs.jobFor(w, r); j != nil {
			j.Fetches++
			if fs.configFails > 0 {
				fs.configFails--
				replyError(w, 500, "Invalid YAML file for w1: env file")
				return
			}
			c := j.Config
			reply(w, 200, map[string]string{"definition": c.Definition, "device": c.Device,
				"dispatcher": c.Dispatcher, "env": c.Env, "env-dut": c.EnvDUT})
		}
	})
}

func (fs *fakeServer) jobState(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	fs.update(func() {
		if fs.down && r.PostForm.Get("state") == workerapi.StateFinished {
			fs.finishFails++
		}
		j := fs.jobFor(w, r)
		if j == nil {
			return
		}
		switch r.PostForm.Get("state") {
		case workerapi.StateRunning:
			j.Running++
			if j.State == "Scheduled" {
				j.State = "Running"
			}
		case workerapi.StateFinished:
			if res := r.PostForm.Get("result"); res != "pass" && res != "fail" {
				replyError(w, 400, "Invalid health '"+res+"'")
				return
			}
			j.State, j.Finish = "Finished", r.PostForm
		default:
			replyError(w, 400, "Invalid state")
			return
		}
		reply(w, 200, map[string]any{})
	})
}

func (fs *fakeServer) jobLogs(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	fs.update(func() {
		j := fs.jobFor(w, r)
		if j == nil {
			return
		}
		lines := r.PostForm.Get("lines")
		var rl readyLine
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines, "- ")), &rl); err != nil {
			replyError(w, 400, "bad ready line")
			return
		}
		j.Ready = append(j.Ready, rl)
		reply(w, 200, workerapi.LogReply{LineCount: 1})
	})
}

func (fs *fakeServer) websocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	deaf := false
	fs.update(func() { fs.wsConns = append(fs.wsConns, c); deaf = fs.wsDeaf })
	if deaf {
		// A connection a proxy dropped silently: nothing comes back.
		<-fs.quit
		return
	}
	// Reading answers the client's pings; what it sends is ignored.
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return
		}
	}
}

// publishJob sends a testjob event on every WebSocket, as lava-publisher.
func (fs *fakeServer) publishJob(id int64, state, worker string) {
	var data events.Ordered
	data.Set("health", "Unknown").Set("state", state).Set("job", id).Set("description", "test").
		Set("priority", 50).Set("submit_time", time.Now()).Set("submitter", "admin").
		Set("health_check", false).Set("device", "qemu01").Set("worker", worker)
	ev := events.Event{Topic: events.TopicTestJob, UUID: "00000000-0000-0000-0000-000000000000",
		Time: time.Now(), Username: "admin", Data: data.String()}
	fs.mu.Lock()
	conns := append([]*websocket.Conn(nil), fs.wsConns...)
	fs.mu.Unlock()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.Write(ctx, websocket.MessageText, ev.WSMessage(events.DefaultPrefix))
		cancel()
	}
}
