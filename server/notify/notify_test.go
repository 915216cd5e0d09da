package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golava/pkg/jobdef"
	"golava/server/notify"
	"golava/server/notify/notifytest"
	"golava/server/publisher"
	"golava/server/store"
	"golava/server/store/storetest"
)

type callbackHit struct {
	Path  string
	Token string
	Type  string
	Body  []byte
}

// run starts a hub and a notifier until the returned stop is called.
func run(t *testing.T, st *store.Store, cfg notify.Config) (stop func()) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	hub := publisher.NewHub(st, logger, publisher.HubConfig{})
	hubDone, svcDone := make(chan error, 1), make(chan error, 1)
	go func() { hubDone <- hub.Run(ctx) }()
	go func() { svcDone <- notify.New(st, hub, logger, cfg).Run(ctx) }()
	// A first run starts from "now": wait until the service has subscribed
	// (it then records its cursor), or the test's events could precede it.
	cursor := cfg.Cursor
	if cursor == "" {
		cursor = "default"
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok, err := st.NotifyCursor(ctx, cursor); err == nil && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("notifier did not subscribe within 20s")
		}
		select {
		case err := <-svcDone:
			t.Fatalf("notifier stopped: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for _, ch := range []chan error{svcDone, hubDone} {
			select {
			case err := <-ch:
				if err != nil {
					t.Errorf("run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("notifier did not stop")
			}
		}
	}
	t.Cleanup(stop)
	return stop
}

func submit(t *testing.T, st *store.Store, u *store.User, def string) int64 {
	t.Helper()
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ids, err := st.SubmitJob(context.Background(), store.DefaultRealm, u, def, job)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return ids[0]
}

func jobDef(name, notifyBlock string) string {
	return "job_name: " + name + "\ndevice_type: qemu\nvisibility: public\nmetadata: {build: '42'}\n" +
		"timeouts:\n  job: {minutes: 10}\nactions:\n- boot:\n    method: minimal\n" + notifyBlock
}

// Acceptance 4: a callback (retried after a failure) and emails arrive for a
// finished job; a job whose criteria do not match sends nothing; a restart
// sends nothing twice.
func TestNotificationsArrive(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	alice, err := st.CreateUser(ctx, store.NewUser{Username: "alice", Email: "alice@example.org", Password: "pw-alice-123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu')`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO devices (realm_id, hostname, device_type_id, health)
SELECT 1, 'qemu-01', id, 'Good' FROM device_types WHERE name = 'qemu'`); err != nil {
		t.Fatal(err)
	}
	sink := notifytest.StartSMTPSink(t)
	hits := make(chan callbackHit, 10)
	var calls atomic.Int32
	cbSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		hits <- callbackHit{Path: r.URL.Path, Token: r.Header.Get("Authorization"), Type: r.Header.Get("Content-Type"), Body: b}
	}))
	t.Cleanup(cbSrv.Close)
	host, port := sink.Addr()
	cfg := notify.Config{SMTPHost: host, SMTPPort: port, From: "lava@lab.example", BaseURL: "http://lab.example",
		Backoff: 10 * time.Millisecond, Attempts: 3}
	stop := run(t, st, cfg)

	// Not matching: complete only, and this job is canceled.
	quiet := submit(t, st, alice, jobDef("quiet", "notify:\n  criteria: {status: complete}\n  recipients:\n  - to: {method: email, email: nobody@example.org}\n"))
	loud := submit(t, st, alice, jobDef("loud", "notify:\n  criteria: {status: finished}\n  recipients:\n"+
		"  - to: {method: email, user: alice}\n  - to: {method: email, email: ops@example.org}\n  - to: {method: irc, handle: bot, server: irc.example}\n"+
		"  callbacks:\n  - url: "+cbSrv.URL+"/done/{ID}\n    method: POST\n    token: s3cret\n    content-type: json\n    dataset: results\n"))
	for _, id := range []int64{quiet, loud} {
		if err := st.CancelJob(ctx, store.DefaultRealm, id, alice); err != nil {
			t.Fatal(err)
		}
	}

	var hit callbackHit
	select {
	case hit = <-hits:
	case <-time.After(20 * time.Second):
		t.Fatal("no callback")
	}
	if hit.Path != "/done/"+strconv.FormatInt(loud, 10) || hit.Token != "s3cret" || hit.Type != "application/json" {
		t.Fatalf("callback %+v", hit)
	}
	var data map[string]any
	if err := json.Unmarshal(hit.Body, &data); err != nil {
		t.Fatalf("callback body %s: %v", hit.Body, err)
	}
	if data["id"] != float64(loud) || data["state"] != "Finished" || data["health"] != "Canceled" ||
		data["status"] != float64(4) || data["status_string"] != "canceled" || data["submitter_username"] != "alice" ||
		data["token"] != "s3cret" || data["end_time"] == "None" {
		t.Fatalf("callback data %v", data)
	}
	if md, _ := data["metadata"].(map[string]any); md["build"] != "42" {
		t.Fatalf("metadata %v", data["metadata"])
	}
	if _, ok := data["results"]; !ok {
		t.Fatal("results dataset without results")
	}

	got := map[string]notifytest.Mail{}
	for len(got) < 2 {
		select {
		case m := <-sink.Msgs:
			got[m.To[0]] = m
		case <-time.After(20 * time.Second):
			t.Fatalf("mails so far: %v", got)
		}
	}
	for _, to := range []string{"alice@example.org", "ops@example.org"} {
		m, ok := got[to]
		if !ok || m.From != "lava@lab.example" || !strings.Contains(m.Data, "LAVA notification for Test Job "+strconv.FormatInt(loud, 10)) ||
			!strings.Contains(m.Data, "http://lab.example/scheduler/job/"+strconv.FormatInt(loud, 10)) {
			t.Fatalf("mail to %s: %+v", to, m)
		}
	}
	// The outcome is recorded just after the sink got the mail.
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		status, err := st.NotificationStatus(ctx, loud)
		if err != nil {
			t.Fatal(err)
		}
		sent := 0
		for _, s := range status {
			if s == "sent" {
				sent++
			}
		}
		if len(status) == 3 && sent == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notification rows %v, want 3 sent", status)
		}
		<-tick.C
	}
	if q, _ := st.NotificationStatus(ctx, quiet); len(q) != 0 {
		t.Fatalf("quiet job notified: %v", q)
	}

	// A restart resumes after the handled events: nothing is sent again,
	// and a job finished while the notifier was down is notified.
	stop()
	late := submit(t, st, alice, jobDef("late", "notify:\n  criteria: {status: canceled}\n  recipients:\n  - to: {method: email, email: late@example.org}\n"))
	if err := st.CancelJob(ctx, store.DefaultRealm, late, alice); err != nil {
		t.Fatal(err)
	}
	run(t, st, cfg)
	select {
	case m := <-sink.Msgs:
		if m.To[0] != "late@example.org" {
			t.Fatalf("after restart got mail to %v", m.To)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no mail for the job finished while down")
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("callback called %d times, want 2 (one failure, one success)", n)
	}
	select {
	case m := <-sink.Msgs:
		t.Fatalf("mail sent again: %+v", m)
	case hit := <-hits:
		t.Fatalf("callback again: %+v", hit)
	default:
	}
}

func TestCriteria(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c                   notify.Criteria
		state, health, prev string
		want                bool
	}{
		{notify.Criteria{Status: "all"}, "Running", "Unknown", "", true},
		{notify.Criteria{Status: "all"}, "Finished", "Canceled", "", true},
		{notify.Criteria{Status: "running"}, "Finished", "Complete", "", false},
		{notify.Criteria{Status: "finished"}, "Finished", "Incomplete", "", true},
		{notify.Criteria{Status: "complete"}, "Finished", "Complete", "", true},
		{notify.Criteria{Status: "complete"}, "Finished", "Incomplete", "", false},
		{notify.Criteria{Status: "incomplete"}, "Running", "Unknown", "", false},
		{notify.Criteria{Status: "canceled"}, "Finished", "Canceled", "", true},
		{notify.Criteria{Status: "incomplete", Type: "regression"}, "Finished", "Incomplete", "Complete", true},
		{notify.Criteria{Status: "incomplete", Type: "regression"}, "Finished", "Incomplete", "Incomplete", false},
		{notify.Criteria{Status: "complete", Type: "progression"}, "Finished", "Complete", "Incomplete", true},
		{notify.Criteria{Status: "complete", Type: "progression"}, "Finished", "Complete", "", false},
	}
	for i, tt := range tests {
		if got := tt.c.Matches(tt.state, tt.health, tt.prev); got != tt.want {
			t.Errorf("%d: %+v.Matches(%s, %s, %s) = %v", i, tt.c, tt.state, tt.health, tt.prev, got)
		}
	}
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	s, err := notify.ParseSpec("notify:\n  criteria: {status: complete}\n  callback: {url: 'http://x/{ID}'}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Callbacks) != 1 || s.Callbacks[0].Method != "GET" || s.Callbacks[0].Header != "Authorization" || s.Callbacks[0].Dataset != "minimal" {
		t.Fatalf("spec %+v", s)
	}
	if s, err := notify.ParseSpec("job_name: x\n"); s != nil || err != nil {
		t.Fatalf("no block: %v %v", s, err)
	}
	if _, err := notify.ParseSpec("notify: [\n"); err == nil {
		t.Fatal("broken YAML accepted")
	}
}

// A claim left "sending" by a notifier that died is sent by the next one.
func TestStaleClaimIsResent(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	alice, err := st.CreateUser(ctx, store.NewUser{Username: "alice", Password: "pw-alice-123"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `WITH t AS (INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu') RETURNING id)
INSERT INTO devices (realm_id, hostname, device_type_id, health) SELECT 1, 'qemu-01', id, 'Good' FROM t`); err != nil {
		t.Fatal(err)
	}
	id := submit(t, st, alice, jobDef("stale", "notify:\n  criteria: {status: finished}\n  recipients:\n  - to: {method: email, email: stale@example.org}\n"))
	if err := st.CancelJob(ctx, store.DefaultRealm, id, alice); err != nil {
		t.Fatal(err)
	}
	// The claim of a notifier that died an hour ago while sending.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO job_notifications (job_id, state, target, updated_at)
VALUES ($1, 'Finished', 'email:stale@example.org', now() - interval '1 hour')`, id); err != nil {
		t.Fatal(err)
	}
	sink := notifytest.StartSMTPSink(t)
	host, port := sink.Addr()
	run(t, st, notify.Config{SMTPHost: host, SMTPPort: port, Backoff: 10 * time.Millisecond, StaleAfter: time.Minute})
	select {
	case m := <-sink.Msgs:
		if m.To[0] != "stale@example.org" {
			t.Fatalf("mail to %v", m.To)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("stale claim not sent again")
	}
}
