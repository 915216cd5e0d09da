package store_test

import (
	"context"
	"errors"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// eventsOf returns the data of the events of one topic, oldest first.
func eventsOf(t *testing.T, st *store.Store, topic string) []string {
	t.Helper()
	rows, err := st.Pool().Query(context.Background(), `SELECT data FROM events WHERE topic = $1 ORDER BY id`, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestWorkerCreateAuth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	w, token, err := st.CreateWorker(ctx, store.DefaultRealm, "lab-1", "first lab")
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 32 || w.State != store.WorkerOffline || w.Health != store.WorkerActive || w.Description != "first lab" {
		t.Errorf("worker = %+v token %q", w, token)
	}
	if _, _, err := st.CreateWorker(ctx, store.DefaultRealm, "lab-1", ""); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := st.CreateWorker(ctx, store.DefaultRealm, "bad/name", ""); err == nil {
		t.Error("worker name with a slash accepted")
	}
	tests := []struct {
		name, host, token string
		want              error
	}{
		{"good", "lab-1", token, nil},
		{"wrong", "lab-1", otherToken(token), store.ErrInvalidToken},
		{"empty", "lab-1", "", store.ErrInvalidToken},
		{"unknown worker", "lab-2", token, store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.AuthWorker(ctx, store.DefaultRealm, tt.host, tt.token)
			if !errors.Is(err, tt.want) || (tt.want == nil && got.ID != w.ID) {
				t.Fatalf("AuthWorker = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	newToken, err := st.RotateWorkerToken(ctx, store.DefaultRealm, "lab-1")
	if err != nil || newToken == token {
		t.Fatalf("rotate: %q, %v", newToken, err)
	}
	if _, err := st.AuthWorker(ctx, store.DefaultRealm, "lab-1", token); !errors.Is(err, store.ErrInvalidToken) {
		t.Errorf("old token after rotation: %v", err)
	}
	if _, err := st.AuthWorker(ctx, store.DefaultRealm, "lab-1", newToken); err != nil {
		t.Errorf("new token: %v", err)
	}
	if _, err := st.RotateWorkerToken(ctx, store.DefaultRealm, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate unknown: %v", err)
	}
	// Another realm does not see the worker.
	if _, err := st.Pool().Exec(ctx, `INSERT INTO realms (name) VALUES ('other')`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WorkerByName(ctx, 2, "lab-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("worker visible from another realm: %v", err)
	}
	if got := eventsOf(t, st, "worker"); len(got) != 1 || got[0] != `{"hostname": "lab-1", "health": "Active", "state": "Offline"}` {
		t.Errorf("worker events = %q", got)
	}
}

func TestWorkerPingAndHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	w, _, err := st.CreateWorker(ctx, store.DefaultRealm, "w1", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.PingWorker(ctx, w.ID, "2023.01", true)
	if err != nil || got.State != store.WorkerOnline || got.Version != "2023.01" || got.LastPing == nil {
		t.Fatalf("ping = %+v, %v", got, err)
	}
	first := *got.LastPing
	// A second accepted ping changes nothing but last_ping: no event.
	got, err = st.PingWorker(ctx, w.ID, "2023.01", true)
	if err != nil || got.LastPing.Before(first) {
		t.Fatalf("second ping = %+v, %v", got, err)
	}
	// A refused ping (version mismatch) stores the version, goes Offline,
	// keeps last_ping.
	got, err = st.PingWorker(ctx, w.ID, "2022.11", false)
	if err != nil || got.State != store.WorkerOffline || got.Version != "2022.11" || got.LastPing.Before(first) {
		t.Fatalf("refused ping = %+v, %v", got, err)
	}
	want := []string{
		`{"hostname": "w1", "health": "Active", "state": "Offline"}`,
		`{"hostname": "w1", "health": "Active", "state": "Online"}`,
		`{"hostname": "w1", "health": "Active", "state": "Offline"}`,
	}
	if ev := eventsOf(t, st, "worker"); !equal(ev, want) {
		t.Errorf("events = %q\nwant %q", ev, want)
	}
	if _, err := st.PingWorker(ctx, 999999, "x", true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ping of unknown id: %v", err)
	}

	if got, err := st.SetWorkerHealth(ctx, store.DefaultRealm, "w1", store.WorkerMaintenance); err != nil || got.Health != store.WorkerMaintenance {
		t.Fatalf("SetWorkerHealth = %+v, %v", got, err)
	}
	if _, err := st.SetWorkerHealth(ctx, store.DefaultRealm, "w1", store.WorkerMaintenance); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetWorkerHealth(ctx, store.DefaultRealm, "w1", "Sick"); err == nil {
		t.Error("health Sick accepted")
	}
	if _, err := st.SetWorkerHealth(ctx, store.DefaultRealm, "nope", store.WorkerActive); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown worker: %v", err)
	}
	if ev := eventsOf(t, st, "worker"); len(ev) != 4 || ev[3] != `{"hostname": "w1", "health": "Maintenance", "state": "Offline"}` {
		t.Errorf("events after health change = %q", ev)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestListWorkers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	for _, h := range []string{"alpha", "beta", "gamma", "delta"} {
		w, _, err := st.CreateWorker(ctx, store.DefaultRealm, h, "desc "+h)
		if err != nil {
			t.Fatal(err)
		}
		if h == "beta" || h == "delta" {
			if _, err := st.PingWorker(ctx, w.ID, "2023.01", true); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name  string
		q     store.ListQuery
		want  []string
		total int64
	}{
		{"all by hostname", store.ListQuery{}, []string{"alpha", "beta", "delta", "gamma"}, 4},
		{"page", store.ListQuery{Limit: 2, Offset: 1}, []string{"beta", "delta"}, 4},
		{"state", store.ListQuery{Filters: []store.Filter{{Field: "state", Op: "exact", Values: []string{"Online"}}}}, []string{"beta", "delta"}, 2},
		{"in", store.ListQuery{Filters: []store.Filter{{Field: "hostname", Op: "in", Values: []string{"gamma", "alpha", "zzz"}}}}, []string{"alpha", "gamma"}, 2},
		{"startswith", store.ListQuery{Filters: []store.Filter{{Field: "hostname", Op: "startswith", Values: []string{"de"}}}}, []string{"delta"}, 1},
		{"endswith", store.ListQuery{Filters: []store.Filter{{Field: "hostname", Op: "endswith", Values: []string{"ta"}}}}, []string{"beta", "delta"}, 2},
		{"icontains", store.ListQuery{Filters: []store.Filter{{Field: "description", Op: "icontains", Values: []string{"DESC AL"}}}}, []string{"alpha"}, 1},
		{"iexact", store.ListQuery{Filters: []store.Filter{{Field: "state", Op: "iexact", Values: []string{"offline"}}}}, []string{"alpha", "gamma"}, 2},
		{"order desc", store.ListQuery{Order: []string{"-hostname"}}, []string{"gamma", "delta", "beta", "alpha"}, 4},
		{"order state (LAVA code: Online first) then name", store.ListQuery{Order: []string{"state", "bogus"}}, []string{"beta", "delta", "alpha", "gamma"}, 4},
		{"ping gt", store.ListQuery{Filters: []store.Filter{{Field: "last_ping", Op: "gt", Values: []string{"2000-01-01"}}}}, []string{"beta", "delta"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := st.ListWorkers(ctx, store.DefaultRealm, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, w := range got {
				names = append(names, w.Hostname)
			}
			if !equal(names, tt.want) || total != tt.total {
				t.Errorf("got %v (%d), want %v (%d)", names, total, tt.want, tt.total)
			}
		})
	}
	bad := []store.Filter{
		{Field: "token", Op: "exact", Values: []string{"x"}},
		{Field: "hostname", Op: "lt", Values: []string{"x"}},
		{Field: "last_ping", Op: "gt", Values: []string{"yesterday"}},
		{Field: "job_limit", Op: "exact", Values: []string{"many"}},
		{Field: "hostname", Op: "exact", Values: []string{"a", "b"}},
	}
	for _, f := range bad {
		if _, _, err := st.ListWorkers(ctx, store.DefaultRealm, store.ListQuery{Filters: []store.Filter{f}}); !errors.Is(err, store.ErrInvalidFilter) {
			t.Errorf("filter %+v: err = %v, want ErrInvalidFilter", f, err)
		}
	}
}

// otherToken changes the last character of a token, so it never equals it.
func otherToken(tok string) string {
	last := byte('a')
	if tok[len(tok)-1] == 'a' {
		last = 'b'
	}
	return tok[:len(tok)-1] + string(last)
}
