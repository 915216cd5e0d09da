package store_test

import (
	"context"
	"testing"
	"time"

	"golava/server/store/storetest"
)

func TestEventsAfter(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	if id, err := st.LatestEventID(ctx); err != nil || id != 0 {
		t.Fatalf("LatestEventID on empty table = %d, %v", id, err)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO realms (name) VALUES ('lab2')`); err != nil {
		t.Fatal(err)
	}
	_, err := st.Pool().Exec(ctx, `INSERT INTO events (realm_id, topic, username, data, created_at) VALUES
		(1, 'device', 'lavaserver', '{"health": "Good"}', '2026-11-29T03:00:41.721417Z'),
		((SELECT id FROM realms WHERE name = 'lab2'), 'testjob', 'alice', '{"job": 1}', now()),
		(1, 'worker', 'lavaserver', '{"hostname": "w"}', now())`)
	if err != nil {
		t.Fatal(err)
	}
	all, err := st.EventsAfter(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("got %d events, want 3", len(all))
	}
	first := all[0]
	if first.Realm != "default" || first.Topic != "device" || first.Username != "lavaserver" || first.Data != `{"health": "Good"}` ||
		!first.Time.Equal(time.Date(2026, 11, 29, 3, 0, 41, 721417000, time.UTC)) || len(first.UUID) != 36 {
		t.Fatalf("first event %+v", first)
	}
	if all[1].Realm != "lab2" || all[1].FullTopic("org.lavasoftware") != "org.lavasoftware.lab2.testjob" {
		t.Fatalf("second event %+v", all[1])
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("events not in id order: %d then %d", all[i-1].ID, all[i].ID)
		}
	}
	tail, err := st.EventsAfter(ctx, all[0].ID, 1)
	if err != nil || len(tail) != 1 || tail[0].ID != all[1].ID {
		t.Fatalf("EventsAfter(%d, 1) = %+v, %v", all[0].ID, tail, err)
	}
	if id, err := st.LatestEventID(ctx); err != nil || id != all[2].ID {
		t.Fatalf("LatestEventID = %d, %v; want %d", id, err, all[2].ID)
	}
}

func TestTransactionsDone(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	ctx := context.Background()
	tx, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var xid int64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	open, err := st.OpenTransactions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range open {
		found = found || x == xid
	}
	if !found {
		t.Fatalf("open transactions %v miss %d", open, xid)
	}
	if done, err := st.TransactionsDone(ctx, []int64{xid}); err != nil || done {
		t.Fatalf("TransactionsDone while open = %v, %v", done, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if done, err := st.TransactionsDone(ctx, []int64{xid}); err != nil || !done {
		t.Fatalf("TransactionsDone after rollback = %v, %v", done, err)
	}
}
