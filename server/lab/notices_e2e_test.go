package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/jobdef"
	"golava/server/notify"
	"golava/server/notify/notifytest"
	"golava/server/store/storetest"
)

// wsTopics follows /ws/ and keeps "<topic> <job>" of every event.
type wsTopics struct {
	mu  sync.Mutex
	got []string
}

func followWS(t *testing.T, base, token string) *wsTopics {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := strings.Replace(base, "http", "ws", 1) + "/ws/"
	if token != "" {
		u += "?token=" + url.QueryEscape(token)
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	ws, _, err := websocket.Dial(dctx, u, nil)
	if err != nil {
		cancel()
		t.Fatalf("dial %s: %v", u, err)
	}
	ws.SetReadLimit(1 << 20)
	w := &wsTopics{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var frame []string
			var data struct {
				Job json.RawMessage `json:"job"`
			}
			if json.Unmarshal(b, &frame) != nil || len(frame) != 5 {
				continue
			}
			_ = json.Unmarshal([]byte(frame[4]), &data)
			w.mu.Lock()
			w.got = append(w.got, frame[0]+" "+string(data.Job))
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); ws.CloseNow(); <-done })
	return w
}

func (w *wsTopics) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.got...)
}

func (w *wsTopics) has(s string) bool {
	for _, g := range w.seen() {
		if g == s {
			return true
		}
	}
	return false
}

// Issue 10 end to end: a job run on dut-sim by lava-lab in the default
// realm and a job of realm blue each send their notice to their realm's
// webhook only, and /ws/ subscribers see only their own realm's notices.
func TestRealmNoticesAndWebhooks(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t)
	dir := shortTempDir(t)
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "1",
		"--coordinator-listen", "127.0.0.1:0", "--database-url", dbURL)
	m := p.waitOutput(readyRE, 90*time.Second)
	base := m[1]
	admin := &client{t: t, base: base, token: readFile(t, filepath.Join(dir, "admin-token"))}

	ctx := context.Background()
	b := newBlueRealm(t, dbURL, "blue-host", "")
	st, blue, bob, bobToken := b.st, b.realm, b.bob, b.bobToken

	defSink, blueSink := notifytest.StartWebhookSink(t), notifytest.StartWebhookSink(t)
	for _, h := range []struct{ realm, url, secret string }{{"default", defSink.URL + "/d", ""}, {"blue", blueSink.URL + "/b", "blue-key"}} {
		form := url.Values{"url": {h.url}, "secret": {h.secret}}
		code, b := admin.do("POST", "/api/v0.2/realms/"+h.realm+"/webhooks/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if code != 201 {
			t.Fatalf("add %s webhook: %d %s", h.realm, code, b)
		}
	}
	anon, bobWS := followWS(t, base, ""), followWS(t, base, bobToken)

	// The default realm's job runs on the board.
	id := admin.submit(jobWithSteps("noticed", 2*time.Minute, "lava-test-case ok --shell true"))
	if j := admin.waitFinished(id, 2*time.Minute); j.Health != "Complete" {
		t.Fatalf("job %d: %s (%s)", id, j.Health, deref(j.FailureComment))
	}
	hook := waitHook(t, defSink)
	var n struct {
		Job    int64  `json:"job"`
		Realm  string `json:"realm"`
		Health string `json:"health"`
		Device string `json:"device"`
		URL    string `json:"url"`
	}
	if err := json.Unmarshal(hook.Body, &n); err != nil {
		t.Fatalf("notice %s: %v", hook.Body, err)
	}
	if n.Job != id || n.Realm != "default" || n.Health != "Complete" || n.Device == "" ||
		n.URL != base+"/scheduler/job/"+fmt.Sprint(id) || hook.Header.Get(notify.HeaderRealm) != "default" {
		t.Fatalf("default webhook got %s %v", hook.Body, hook.Header)
	}
	defNotice := fmt.Sprintf("org.lavasoftware.notice %d", id)
	waitFor(t, 30*time.Second, "the anonymous client to see the notice", func() bool { return anon.has(defNotice) })

	// blue's job is canceled while queued: it finishes, with its notice.
	def := jobWithSteps("blue", time.Minute, "true")
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := st.SubmitJob(ctx, blue.ID, bob, def, job)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CancelJob(ctx, blue.ID, ids[0], bob); err != nil {
		t.Fatal(err)
	}
	bh := waitHook(t, blueSink)
	if !strings.Contains(string(bh.Body), fmt.Sprintf(`{"job": %d, "realm": "blue", "health": "Canceled"`, ids[0])) ||
		bh.Header.Get(notify.HeaderRealm) != "blue" || bh.Header.Get(notify.HeaderSignature) != notify.Sign("blue-key", bh.Body) {
		t.Fatalf("blue webhook got %s %v", bh.Body, bh.Header)
	}
	blueNotice := fmt.Sprintf("org.lavasoftware.blue.notice %d", ids[0])
	waitFor(t, 30*time.Second, "bob to see blue's notice", func() bool { return bobWS.has(blueNotice) })

	// A later default event: once the anonymous client has it, it had
	// every earlier one (the hub sends in outbox order).
	marker := admin.submit(jobWithSteps("marker", time.Minute, "true"))
	if code, b := admin.do("POST", fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", marker), "", nil); code != 200 {
		t.Fatalf("cancel %d: %d %s", marker, code, b)
	}
	waitFor(t, 90*time.Second, "the anonymous client to see the marker", func() bool {
		return anon.has(fmt.Sprintf("org.lavasoftware.notice %d", marker))
	})
	for _, s := range anon.seen() {
		if strings.HasPrefix(s, "org.lavasoftware.blue.") {
			t.Errorf("the anonymous client saw blue's event %s", s)
		}
	}
	for _, s := range bobWS.seen() {
		if !strings.HasPrefix(s, "org.lavasoftware.blue.") {
			t.Errorf("bob (realm blue) saw %s", s)
		}
	}
	waitHook(t, defSink) // the marker's notice
	// Each webhook got its realm's notices, each once.
	if defSink.Count("/d") != 2 || blueSink.Count("/b") != 1 {
		t.Errorf("webhook calls: default %d (want 2), blue %d (want 1)", defSink.Count("/d"), blueSink.Count("/b"))
	}
}

func waitHook(t *testing.T, s *notifytest.WebhookSink) notifytest.Hook {
	t.Helper()
	select {
	case h := <-s.Hits:
		return h
	case <-time.After(60 * time.Second):
		t.Fatal("no webhook call within 60 s")
	}
	return notifytest.Hook{}
}
