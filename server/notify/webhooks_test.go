package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golava/pkg/jobdef"
	"golava/server/notify"
	"golava/server/notify/notifytest"
	"golava/server/store"
	"golava/server/store/storetest"
)

// webhookLab is the default realm and realm alpha, each with a qemu device,
// and alice, a member of both.
type webhookLab struct {
	st    *store.Store
	alpha *store.Realm
	alice *store.User
}

func newWebhookLab(t *testing.T) *webhookLab {
	t.Helper()
	ctx := context.Background()
	l := &webhookLab{st: storetest.New(t)}
	var err error
	if l.alice, err = l.st.CreateUser(ctx, store.NewUser{Username: "alice", Email: "alice@example.org", Password: "pw-alice-123"}); err != nil {
		t.Fatal(err)
	}
	if l.alpha, err = l.st.CreateRealm(ctx, "alpha", ""); err != nil {
		t.Fatal(err)
	}
	if err := l.st.AddRealmMember(ctx, l.alpha.ID, l.alice.ID); err != nil {
		t.Fatal(err)
	}
	for _, r := range []int64{store.DefaultRealm, l.alpha.ID} {
		if _, err := l.st.Pool().Exec(ctx, `WITH dt AS (INSERT INTO device_types (realm_id, name) VALUES ($1, 'qemu') RETURNING id)
INSERT INTO devices (realm_id, hostname, device_type_id, health) SELECT $1, 'qemu-01', id, 'Good' FROM dt`, r); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// finish submits a job in the realm and cancels it while queued, which
// finishes it: its notice goes to the realm's webhooks.
func (l *webhookLab) finish(t *testing.T, realmID int64) int64 {
	t.Helper()
	def := jobDef("webhook test", "")
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := l.st.SubmitJob(context.Background(), realmID, l.alice, def, job)
	if err != nil {
		t.Fatalf("submit in realm %d: %v", realmID, err)
	}
	if err := l.st.CancelJob(context.Background(), realmID, ids[0], l.alice); err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

func (l *webhookLab) webhook(t *testing.T, realmID int64, url, secret string) *store.Webhook {
	t.Helper()
	w, err := l.st.CreateWebhook(context.Background(), realmID, url, secret)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// nextHook waits for the sink's next request.
func nextHook(t *testing.T, s *notifytest.WebhookSink) notifytest.Hook {
	t.Helper()
	select {
	case h := <-s.Hits:
		return h
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call within 20 s")
	}
	return notifytest.Hook{}
}

type notice struct {
	Job   int64  `json:"job"`
	Realm string `json:"realm"`
	State string `json:"state"`
	URL   string `json:"url"`
}

func decodeNotice(t *testing.T, h notifytest.Hook) notice {
	t.Helper()
	var n notice
	if err := json.Unmarshal(h.Body, &n); err != nil {
		t.Fatalf("webhook body %q: %v", h.Body, err)
	}
	return n
}

// waitDelivery polls the delivery of notice (the job's) to webhook until it
// has the status.
func (l *webhookLab) waitDelivery(t *testing.T, job, webhook int64, status string) store.DeliveryState {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var eventID int64
		err := l.st.Pool().QueryRow(context.Background(), `SELECT id FROM events WHERE topic = 'notice' AND data LIKE $1`,
			`{"job": `+strconv.FormatInt(job, 10)+`,%`).Scan(&eventID)
		if err != nil {
			t.Fatal(err)
		}
		st, err := l.st.NoticeDeliveries(context.Background(), eventID)
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := st[webhook]; ok && d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of job %d's notice to webhook %d: %+v, want %s", job, webhook, st, status)
		}
		<-time.After(5 * time.Millisecond)
	}
}

// Each realm's notices reach its webhooks only, once each, signed when the
// webhook has a secret, retried after a failure; a restart neither resends
// nor loses a notice.
func TestWebhookNoticesOncePerRealm(t *testing.T) {
	t.Parallel()
	l := newWebhookLab(t)
	def := notifytest.StartWebhookSink(t, http.StatusServiceUnavailable) // the first try fails
	alpha := notifytest.StartWebhookSink(t)
	wDef := l.webhook(t, store.DefaultRealm, def.URL+"/default", "k3y")
	wAlpha := l.webhook(t, l.alpha.ID, alpha.URL+"/alpha", "")
	cfg := notify.Config{Backoff: 10 * time.Millisecond, Attempts: 3, WebhookPoll: 20 * time.Millisecond, BaseURL: "http://lab.example/"}
	stop := run(t, l.st, cfg)

	dj := l.finish(t, store.DefaultRealm)
	aj := l.finish(t, l.alpha.ID)

	first := nextHook(t, def)
	if first.Status != http.StatusServiceUnavailable {
		t.Fatalf("first call answered %d", first.Status)
	}
	second := nextHook(t, def)
	for _, h := range []notifytest.Hook{first, second} {
		if n := decodeNotice(t, h); n.Job != dj || n.Realm != "default" || n.State != "Finished" ||
			n.URL != "http://lab.example/scheduler/job/"+strconv.FormatInt(dj, 10) {
			t.Errorf("default webhook got %s", h.Body)
		}
		if h.Header.Get(notify.HeaderRealm) != "default" || h.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", h.Header)
		}
		if got, want := h.Header.Get(notify.HeaderSignature), notify.Sign("k3y", h.Body); got != want {
			t.Errorf("signature %q, want %q", got, want)
		}
		if h.Header.Get(notify.HeaderNotice) == "" {
			t.Errorf("no %s header", notify.HeaderNotice)
		}
	}
	a := nextHook(t, alpha)
	if n := decodeNotice(t, a); n.Job != aj || n.Realm != "alpha" || a.Header.Get(notify.HeaderRealm) != "alpha" ||
		a.Header.Get(notify.HeaderSignature) != "" || a.Path != "/alpha" {
		t.Errorf("alpha webhook got %s %v", a.Body, a.Header)
	}
	if d := l.waitDelivery(t, dj, wDef.ID, "sent"); d.Attempts != 2 {
		t.Errorf("default delivery %+v, want sent in 2 attempts", d)
	}
	if d := l.waitDelivery(t, aj, wAlpha.ID, "sent"); d.Attempts != 1 {
		t.Errorf("alpha delivery %+v", d)
	}

	// Stopped, a job finishes; restarted, its notice is sent and nothing
	// already delivered is sent again.
	stop()
	later := l.finish(t, store.DefaultRealm)
	run(t, l.st, cfg)
	if n := decodeNotice(t, nextHook(t, def)); n.Job != later {
		t.Fatalf("after the restart the default webhook got job %d, want %d", n.Job, later)
	}
	l.waitDelivery(t, later, wDef.ID, "sent")
	if def.Count("/default") != 3 || alpha.Count("/alpha") != 1 {
		t.Errorf("calls: default %d (want 3), alpha %d (want 1)", def.Count("/default"), alpha.Count("/alpha"))
	}
}

// A refusal (4xx) is final at once; server errors are retried, then given up.
func TestWebhookFailures(t *testing.T) {
	t.Parallel()
	l := newWebhookLab(t)
	refused := notifytest.StartWebhookSink(t, http.StatusForbidden)
	broken := notifytest.StartWebhookSink(t, 500, 502, 500, 500)
	wRefused := l.webhook(t, store.DefaultRealm, refused.URL+"/r", "")
	wBroken := l.webhook(t, store.DefaultRealm, broken.URL+"/b", "")
	run(t, l.st, notify.Config{Backoff: 5 * time.Millisecond, Attempts: 3, WebhookPoll: 20 * time.Millisecond})

	job := l.finish(t, store.DefaultRealm)
	if d := l.waitDelivery(t, job, wRefused.ID, "failed"); d.Attempts != 1 || d.Detail == "" {
		t.Errorf("refused delivery %+v, want failed after 1 attempt", d)
	}
	if d := l.waitDelivery(t, job, wBroken.ID, "failed"); d.Attempts != 3 {
		t.Errorf("broken delivery %+v, want failed after 3 attempts", d)
	}
	if refused.Count("/r") != 1 || broken.Count("/b") != 3 {
		t.Errorf("calls: refused %d, broken %d", refused.Count("/r"), broken.Count("/b"))
	}
}
