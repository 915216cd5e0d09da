package store_test

import (
	"testing"

	"golava/server/store"
)

// TestFairShareState: a group that floods the queue beyond the window does
// not hide another group's job from the pass, and each job carries its
// submitter's weighted group; the admin view counts queued jobs.
func TestFairShareState(t *testing.T) {
	t.Parallel()
	l := newSchedLab(t)
	typ := l.deviceType("board", "")
	w := l.worker("w1")
	l.device("b1", typ, w, store.DeviceGood)
	ga := l.id(`INSERT INTO groups (name) VALUES ('team-a') RETURNING id`)
	gb := l.id(`INSERT INTO groups (name) VALUES ('team-b') RETURNING id`)
	ub := l.id(`INSERT INTO users (username) VALUES ('bob') RETURNING id`)
	l.exec(`INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2), ($3, $4)`, l.user, ga, ub, gb)
	for _, g := range []struct {
		name string
		w    float64
	}{{"team-a", 1}, {"team-b", 2}} {
		if err := l.st.SetFairShare(l.ctx, store.DefaultRealm, g.name, g.w); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.st.SetFairShare(l.ctx, store.DefaultRealm, "nobody", 1); err == nil {
		t.Error("unknown group: no error")
	}
	l.exec(`INSERT INTO jobs (realm_id, submitter_id, definition, original_definition, requested_device_type_id, token)
SELECT 1, $1, 'x', 'x', $2, 't' FROM generate_series(1, 30) g`, l.user, typ)
	late := l.job(typ, 50)
	l.exec(`UPDATE jobs SET submitter_id = $2 WHERE id = $1`, late, ub)
	st, err := l.st.SchedulerState(l.ctx, store.DefaultRealm, 10)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, j := range st.Jobs {
		if j.ID == late {
			found = j.Share == gb
		} else if j.Share != ga {
			t.Errorf("job %d share %d, want %d", j.ID, j.Share, ga)
		}
	}
	if !found {
		t.Errorf("team-b's job %d is not in the pass's window (or lacks its share)", late)
	}
	if st.Shares[ga].Weight != 1 || st.Shares[gb].Weight != 2 {
		t.Errorf("shares = %v", st.Shares)
	}
	list, err := l.st.ListFairShare(l.ctx, store.DefaultRealm)
	if err != nil || len(list) != 2 || list[0].Queued != 30 || list[1].Queued != 1 {
		t.Errorf("ListFairShare = %+v, %v", list, err)
	}
	if err := l.st.SetFairShare(l.ctx, store.DefaultRealm, "team-a", 0); err != nil {
		t.Fatal(err)
	}
	if list, _ := l.st.ListFairShare(l.ctx, store.DefaultRealm); len(list) != 1 {
		t.Errorf("after removing team-a: %+v", list)
	}
}
