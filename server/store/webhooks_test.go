package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"golava/pkg/events"
	"golava/pkg/workerapi"
	"golava/server/store"
)

// finishWithEvents runs job id to Finished and returns the events the
// transition wrote after the job started.
func (b *jobsBundle) finishWithEvents(t *testing.T, id int64, f workerapi.Finish) []events.Event {
	t.Helper()
	b.schedule(t, id)
	if err := b.st.JobStarted(b.ctx, id); err != nil {
		t.Fatal(err)
	}
	last, err := b.st.LatestEventID(b.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.st.JobFinished(b.ctx, id, f); err != nil {
		t.Fatal(err)
	}
	evs, err := b.st.EventsAfter(b.ctx, last, 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

type noticeData struct {
	Job         int64   `json:"job"`
	Realm       string  `json:"realm"`
	Health      string  `json:"health"`
	State       string  `json:"state"`
	Submitter   string  `json:"submitter"`
	DeviceType  *string `json:"device_type"`
	Device      *string `json:"device"`
	Description string  `json:"description"`
	EndTime     *string `json:"end_time"`
	URL         string  `json:"url"`
}

func TestNoticeWrittenWithFinishedEvent(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	if err := b.st.SetBaseURL(b.ctx, "http://lava.example:8000/"); err != nil {
		t.Fatal(err)
	}
	if err := b.st.SetBaseURL(b.ctx, "ftp://nope"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("ftp base URL: %v", err)
	}
	id := b.submit(t, b.alice, testJob)[0]
	evs := b.finishWithEvents(t, id, workerapi.Finish{Result: "pass"})
	var finished, notice *events.Event
	for i := range evs {
		switch evs[i].Topic {
		case events.TopicTestJob:
			finished = &evs[i]
		case events.TopicNotice:
			if notice != nil {
				t.Fatalf("two notices: %+v", evs)
			}
			notice = &evs[i]
		}
	}
	if finished == nil || notice == nil {
		t.Fatalf("events %+v: want a testjob event and a notice", evs)
	}
	if notice.ID != finished.ID+1 || notice.Realm != "default" || notice.Username != "alice" {
		t.Errorf("notice %+v after testjob event %d", notice, finished.ID)
	}
	if got := notice.FullTopic(events.DefaultPrefix); got != "org.lavasoftware.notice" {
		t.Errorf("topic %s", got)
	}
	var n noticeData
	if err := json.Unmarshal([]byte(notice.Data), &n); err != nil {
		t.Fatalf("notice %s: %v", notice.Data, err)
	}
	if n.Job != id || n.Realm != "default" || n.Health != "Complete" || n.State != "Finished" ||
		n.Submitter != "alice" || n.DeviceType == nil || *n.DeviceType != "qemu" || n.Device == nil ||
		*n.Device != "qemu-01" || n.Description != "test job" || n.EndTime == nil ||
		n.URL != "http://lava.example:8000/scheduler/job/"+itoa(id) {
		t.Errorf("notice %s", notice.Data)
	}
	// Keys in the documented order, Python's separators.
	want := `{"job": ` + itoa(id) + `, "realm": "default", "health": "Complete", "state": "Finished", "submitter": "alice", "device_type": "qemu", "device": "qemu-01", "description": "test job", "end_time": "`
	if len(notice.Data) < len(want) || notice.Data[:len(want)] != want {
		t.Errorf("notice %s\nwant prefix %s", notice.Data, want)
	}
	// No notice for other transitions; one for a canceled queued job, with
	// a relative url once the base URL is cleared.
	if err := b.st.SetBaseURL(b.ctx, ""); err != nil {
		t.Fatal(err)
	}
	queued := b.submit(t, b.alice, testJob)[0]
	if err := b.st.CancelJob(b.ctx, 1, queued, b.alice); err != nil {
		t.Fatal(err)
	}
	var data string
	if err := b.st.Pool().QueryRow(b.ctx, `SELECT data FROM events WHERE topic = 'notice' AND data LIKE $1`,
		`{"job": `+itoa(queued)+`,%`).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(data), &n); err != nil || n.Health != "Canceled" || n.Device != nil ||
		n.URL != "/scheduler/job/"+itoa(queued) {
		t.Errorf("canceled notice %s (%v)", data, err)
	}
	if c := b.count(t, `SELECT count(*) FROM events WHERE topic = 'notice'`); c != 2 {
		t.Errorf("%d notices, want 2", c)
	}
}

func TestNoticeOfAnotherRealm(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	r, err := b.st.CreateRealm(b.ctx, "lab-b", "second lab")
	if err != nil {
		t.Fatal(err)
	}
	id := b.submit(t, b.alice, testJob)[0]
	b.exec(t, `UPDATE jobs SET realm_id = $2 WHERE id = $1`, id, r.ID)
	evs := b.finishWithEvents(t, id, workerapi.Finish{Result: "fail", ErrorType: "Job"})
	for _, e := range evs {
		if e.Topic != events.TopicNotice {
			continue
		}
		if e.Realm != "lab-b" || e.FullTopic("org.lavasoftware") != "org.lavasoftware.lab-b.notice" {
			t.Errorf("notice %+v", e)
		}
		var n noticeData
		if err := json.Unmarshal([]byte(e.Data), &n); err != nil || n.Realm != "lab-b" || n.Health != "Incomplete" {
			t.Errorf("notice %s (%v)", e.Data, err)
		}
		return
	}
	t.Fatalf("no notice in %+v", evs)
}

func TestWebhooksPerRealm(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	other, err := b.st.CreateRealm(b.ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.st.CreateWebhook(b.ctx, store.DefaultRealm, " https://hooks.example/lava ", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if w.URL != "https://hooks.example/lava" || w.Realm != "default" || w.Secret != "s3cret" {
		t.Errorf("webhook %+v", w)
	}
	if _, err := b.st.CreateWebhook(b.ctx, store.DefaultRealm, "https://hooks.example/lava", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	for _, bad := range []string{"", "hooks.example/x", "ftp://hooks.example/", "http://", "http://u:p@hooks.example/", "http://h/\x00"} {
		if _, err := b.st.CreateWebhook(b.ctx, store.DefaultRealm, bad, ""); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("CreateWebhook(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := b.st.CreateWebhook(b.ctx, store.DefaultRealm, "http://h/", "a\nb"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("secret with a line break: %v", err)
	}
	if _, err := b.st.CreateWebhook(b.ctx, 99999, "http://h/", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing realm: %v", err)
	}
	// The same URL in another realm is another webhook.
	wo, err := b.st.CreateWebhook(b.ctx, other.ID, "https://hooks.example/lava", "")
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.st.ListWebhooks(b.ctx, other.ID)
	if err != nil || len(list) != 1 || list[0].ID != wo.ID {
		t.Fatalf("other's webhooks %+v, %v", list, err)
	}
	if _, err := b.st.Webhook(b.ctx, other.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("default's webhook read in other: %v", err)
	}
	if err := b.st.DeleteWebhook(b.ctx, other.ID, w.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("default's webhook deleted in other: %v", err)
	}
	if err := b.st.DeleteWebhookURL(b.ctx, other.ID, "https://hooks.example/lava"); err != nil {
		t.Fatal(err)
	}
	if list, _ := b.st.ListWebhooks(b.ctx, store.DefaultRealm); len(list) != 1 || list[0].ID != w.ID {
		t.Errorf("default's webhooks %+v", list)
	}
}

func TestWebhookDeliveryQueue(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	other, err := b.st.CreateRealm(b.ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	w1, _ := b.st.CreateWebhook(b.ctx, store.DefaultRealm, "http://127.0.0.1:1/a", "")
	w2, _ := b.st.CreateWebhook(b.ctx, store.DefaultRealm, "http://127.0.0.1:1/b", "k")
	wo, _ := b.st.CreateWebhook(b.ctx, other.ID, "http://127.0.0.1:1/o", "")
	if w1 == nil || w2 == nil || wo == nil {
		t.Fatal("webhooks not created")
	}
	for range 2 { // enqueueing again (a notifier restarted) adds nothing
		n, err := b.st.EnqueueNotice(b.ctx, 7, "", `{"job": 1}`)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(2); n != want && n != 0 {
			t.Fatalf("enqueued %d", n)
		}
	}
	if _, ok, err := b.st.NextDeliveryIn(b.ctx); err != nil || !ok {
		t.Fatalf("NextDeliveryIn: %v %v", ok, err)
	}
	ds, err := b.st.ClaimDeliveries(b.ctx, 10)
	if err != nil || len(ds) != 2 {
		t.Fatalf("claimed %+v, %v", ds, err)
	}
	for _, d := range ds {
		if d.Realm != "default" || d.Body != `{"job": 1}` || d.Attempt != 1 || d.EventID != 7 {
			t.Errorf("delivery %+v", d)
		}
		if d.WebhookID == w2.ID && d.Secret != "k" {
			t.Errorf("delivery to w2 without its secret: %+v", d)
		}
	}
	if again, _ := b.st.ClaimDeliveries(b.ctx, 10); len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	// One is sent, one fails and is retried later, then gives up.
	if err := b.st.SettleDelivery(b.ctx, ds[0], true, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.st.SettleDelivery(b.ctx, ds[1], false, time.Hour, "503"); err != nil {
		t.Fatal(err)
	}
	if again, _ := b.st.ClaimDeliveries(b.ctx, 10); len(again) != 0 {
		t.Fatalf("claimed before its retry time: %+v", again)
	}
	if in, ok, _ := b.st.NextDeliveryIn(b.ctx); !ok || in < 50*time.Minute {
		t.Errorf("next delivery in %v, %v", in, ok)
	}
	b.exec(t, `UPDATE webhook_deliveries SET next_at = now() WHERE status = 'pending'`)
	retry, err := b.st.ClaimDeliveries(b.ctx, 10)
	if err != nil || len(retry) != 1 || retry[0].Attempt != 2 || retry[0].WebhookID != ds[1].WebhookID {
		t.Fatalf("retry %+v, %v", retry, err)
	}
	if err := b.st.SettleDelivery(b.ctx, retry[0], false, 0, "gave up"); err != nil {
		t.Fatal(err)
	}
	st, err := b.st.NoticeDeliveries(b.ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if st[ds[0].WebhookID].Status != "sent" || st[ds[1].WebhookID] != (store.DeliveryState{Status: "failed", Attempts: 2, Detail: "gave up"}) {
		t.Errorf("states %+v", st)
	}
	if _, ok := st[wo.ID]; ok {
		t.Errorf("other realm's webhook got default's notice")
	}
	if list, _ := b.st.ListWebhooks(b.ctx, store.DefaultRealm); list[0].Sent+list[1].Sent != 1 || list[0].Failed+list[1].Failed != 1 {
		t.Errorf("counts %+v %+v", list[0], list[1])
	}
	// A claim whose notifier died goes back to pending.
	if _, err := b.st.EnqueueNotice(b.ctx, 8, "other", `{}`); err != nil {
		t.Fatal(err)
	}
	if ds, _ := b.st.ClaimDeliveries(b.ctx, 10); len(ds) != 1 || ds[0].WebhookID != wo.ID || ds[0].Realm != "other" {
		t.Fatalf("other's claim %+v", ds)
	}
	b.exec(t, `UPDATE webhook_deliveries SET updated_at = now() - interval '1 hour' WHERE event_id = 8`)
	if n, err := b.st.ReleaseStaleDeliveries(b.ctx, time.Minute); err != nil || n != 1 {
		t.Fatalf("released %d, %v", n, err)
	}
	if ds, _ := b.st.ClaimDeliveries(b.ctx, 10); len(ds) != 1 || ds[0].Attempt != 2 {
		t.Fatalf("after release %+v", ds)
	}
	// Settled deliveries are pruned once old; pending ones never.
	if n, err := b.st.PruneDeliveries(b.ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned %d fresh deliveries, %v", n, err)
	}
	b.exec(t, `UPDATE webhook_deliveries SET updated_at = now() - interval '2 hours'`)
	if n, err := b.st.PruneDeliveries(b.ctx, time.Hour); err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the sent and the failed one", n, err)
	}
	// Deleting a webhook drops its queue.
	if err := b.st.DeleteWebhook(b.ctx, other.ID, wo.ID); err != nil {
		t.Fatal(err)
	}
	if c := b.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = $1`, wo.ID); c != 0 {
		t.Errorf("%d deliveries left", c)
	}
}
