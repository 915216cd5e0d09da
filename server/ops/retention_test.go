package ops

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/pkg/jobdef"
	"golava/server/store"
	"golava/server/store/storetest"
)

// lab is a fresh database with a user, device types qemu and bbb and a
// qemu device (so that real submissions are accepted).
type lab struct {
	st   *store.Store
	user *store.User
	ctx  context.Context
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{st: storetest.New(t), ctx: context.Background()}
	var err error
	if l.user, err = l.st.CreateUser(l.ctx, store.NewUser{Username: "admin", IsSuperuser: true}); err != nil {
		t.Fatal(err)
	}
	for _, dt := range []string{"qemu", "bbb"} {
		if _, err := l.st.CreateDeviceType(l.ctx, store.DefaultRealm, store.NewDeviceType{Name: dt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := l.st.CreateWorker(l.ctx, store.DefaultRealm, "w1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.CreateDevice(l.ctx, store.DefaultRealm, store.NewDevice{Hostname: "qemu-01", DeviceType: "qemu", Worker: "w1"}); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := l.st.Pool().Exec(l.ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

const submitJob = `job_name: flowing
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: minimal
`

// seed bulk-inserts n finished jobs r1..rn: even ones qemu, odd ones bbb,
// job i ended i minutes before base; every 3rd has a log chunk, every 4th
// a test suite with one case.
func (l *lab) seed(t *testing.T, n int, base time.Time) {
	t.Helper()
	l.exec(t, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
	        requested_device_type_id, state, health, token, submit_time, start_time, end_time)
	    SELECT 1, $1, 'r' || i, 'x', 'x',
	        (SELECT id FROM device_types WHERE name = CASE WHEN i % 2 = 0 THEN 'qemu' ELSE 'bbb' END),
	        'Finished', 'Complete', 't' || i, $2::timestamptz - (i + 60) * interval '1 minute',
	        $2::timestamptz - (i + 30) * interval '1 minute', $2::timestamptz - i * interval '1 minute'
	    FROM generate_series(1, $3::int) i`, l.user.ID, base, n)
	l.exec(t, `INSERT INTO log_chunks (job_id, first_line, line_count, byte_count, data)
	    SELECT id, 0, 1, 5, 'hello' FROM jobs WHERE description LIKE 'r%' AND substr(description, 2)::int % 3 = 0`)
	l.exec(t, `UPDATE jobs SET log_lines = 1, log_bytes = 5 WHERE id IN (SELECT job_id FROM log_chunks)`)
	l.exec(t, `INSERT INTO test_suites (job_id, name)
	    SELECT id, 'lava' FROM jobs WHERE description LIKE 'r%' AND substr(description, 2)::int % 4 = 0`)
	l.exec(t, `INSERT INTO test_cases (suite_id, name, result) SELECT id, 'job', 'pass' FROM test_suites`)
	l.exec(t, `ANALYZE`)
}

const retentionPolicy = `
batch_size: 1000
pause: 1ms
default:
  jobs: {max_age: 60d}
  results: {keep: 5000}
device_types:
  qemu:
    jobs: {keep: 30000}
  bbb:
    logs: {max_age: 10d}
`

// expected says what the policy leaves of job ri (see seed).
func expected(i int) (job, logs, results bool) {
	qemu := i%2 == 0
	rank := (i + 1) / 2 // among its type, newest first
	job = (qemu && rank <= 30000) || (!qemu && i <= 60*24*60)
	logs = job && i%3 == 0 && (qemu || i <= 10*24*60)
	results = job && i%4 == 0 && rank <= 5000
	return job, logs, results
}

func TestRetention100kWhileSubmitting(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	const n = 100000
	base := time.Now().UTC().Truncate(time.Second)
	l.seed(t, n, base)
	// An old job still running is not finished: never touched.
	l.exec(t, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
	    requested_device_type_id, state, token, submit_time)
	    SELECT 1, $1, 'old-running', 'x', 'x', id, 'Running', 'tr', now() - interval '400 days'
	    FROM device_types WHERE name = 'qemu'`, l.user.ID)

	pol, err := ParsePolicy([]byte(retentionPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ret := NewRetention(l.st.Pool(), store.DefaultRealm, *pol, nil)

	// Submissions flow during the run; each must stay quick.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var submitted []int64
	var slowest time.Duration
	wg.Go(func() {
		job, err := jobdef.Parse([]byte(submitJob))
		if err != nil {
			t.Error(err)
			return
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			ids, err := l.st.SubmitJob(l.ctx, store.DefaultRealm, l.user, submitJob, job)
			if err != nil {
				t.Errorf("submit during retention: %v", err)
				return
			}
			slowest = max(slowest, time.Since(start))
			submitted = append(submitted, ids...)
		}
	})
	start := time.Now()
	rep, err := ret.RunOnce(l.ctx, base)
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retention on %d finished jobs: %+v in %v; %d submissions meanwhile, slowest %v", n, rep, took, len(submitted), slowest)

	var wantJobs, wantLogs, wantResults int
	for i := 1; i <= n; i++ {
		job, logs, results := expected(i)
		if !job {
			wantJobs++
			continue
		}
		if i%3 == 0 && !logs {
			wantLogs++
		}
		if i%4 == 0 && !results {
			wantResults++
		}
	}
	if rep.Jobs != wantJobs || rep.Logs != wantLogs || rep.Results != wantResults || rep.Scanned != n {
		t.Errorf("report %+v, want jobs %d logs %d results %d scanned %d", rep, wantJobs, wantLogs, wantResults, n)
	}
	l.checkLeft(t, n)
	var left int
	if err := l.st.Pool().QueryRow(l.ctx, `SELECT count(*) FROM jobs WHERE state = 'Submitted' AND id = ANY($1)`, submitted).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != len(submitted) || len(submitted) == 0 {
		t.Errorf("%d of %d jobs submitted during retention are left", left, len(submitted))
	}
	var running int
	if err := l.st.Pool().QueryRow(l.ctx, `SELECT count(*) FROM jobs WHERE description = 'old-running'`).Scan(&running); err != nil || running != 1 {
		t.Errorf("old running job: %d rows, %v", running, err)
	}
	// A second run finds nothing more to do.
	if rep, err := ret.RunOnce(l.ctx, base); err != nil || rep.Jobs+rep.Logs+rep.Results != 0 {
		t.Errorf("second run: %+v, %v", rep, err)
	}
}

// checkLeft compares every seeded job with expected.
func (l *lab) checkLeft(t *testing.T, n int) {
	t.Helper()
	rows, err := l.st.Pool().Query(l.ctx, `SELECT substr(j.description, 2)::int,
	        EXISTS (SELECT 1 FROM log_chunks c WHERE c.job_id = j.id) AND j.log_lines = 1,
	        EXISTS (SELECT 1 FROM test_suites s WHERE s.job_id = j.id)
	    FROM jobs j WHERE j.description LIKE 'r%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := make([]bool, n+1)
	bad := 0
	for rows.Next() {
		var i int
		var logs, results bool
		if err := rows.Scan(&i, &logs, &results); err != nil {
			t.Fatal(err)
		}
		seen[i] = true
		wj, wl, wr := expected(i)
		if (!wj || logs != wl || results != wr) && bad < 10 {
			bad++
			t.Errorf("r%d: left with logs %v results %v; want kept %v logs %v results %v", i, logs, results, wj, wl, wr)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n && bad < 20; i++ {
		if wj, _, _ := expected(i); wj && !seen[i] {
			bad++
			t.Errorf("r%d was deleted, the policy keeps it", i)
		}
	}
	var counted int
	if err := l.st.Pool().QueryRow(l.ctx, `SELECT count(*) FROM jobs j WHERE j.log_lines > 0
	    AND NOT EXISTS (SELECT 1 FROM log_chunks c WHERE c.job_id = j.id)`).Scan(&counted); err != nil || counted != 0 {
		t.Errorf("jobs counting log lines they no longer have: %d, %v", counted, err)
	}
	var orphans int
	if err := l.st.Pool().QueryRow(l.ctx, `SELECT count(*) FROM test_cases c
	    WHERE NOT EXISTS (SELECT 1 FROM test_suites s WHERE s.id = c.suite_id)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("orphan test cases: %d, %v", orphans, err)
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, doc, err string
	}{
		{"empty", "", ""},
		{"days", "default: {logs: {max_age: 30d}}", ""},
		{"typo", "default: {log: {max_age: 30d}}", "field log not found"},
		{"bad age", "default: {logs: {max_age: soon}}", `age "soon"`},
		{"negative keep", "device_types: {qemu: {jobs: {keep: -1}}}", "device_types.qemu.jobs.keep: negative"},
		{"batch", "batch_size: 0\ndefault: {}", ""},
		{"huge batch", "batch_size: 1000000", "batch_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePolicy([]byte(tc.doc))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("ParsePolicy(%q) = %v, want %q", tc.doc, err, tc.err)
			}
		})
	}
	p, err := ParsePolicy([]byte(retentionPolicy))
	if err != nil {
		t.Fatal(err)
	}
	if r := p.rules("qemu"); r.Jobs.Keep != 30000 || r.Jobs.MaxAge != 0 || r.Results.Keep != 5000 {
		t.Errorf("qemu rules %+v %+v", r.Jobs, r.Results)
	}
	if r := p.rules("other"); time.Duration(r.Jobs.MaxAge) != 60*24*time.Hour || r.Logs != nil {
		t.Errorf("default rules %+v", r)
	}
	if p.Empty() || !(&Policy{}).Empty() {
		t.Error("Empty")
	}
}

func TestRetentionKeepsMultiNodeGroupsWhole(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	base := time.Now().UTC()
	old, recent := base.Add(-100*24*time.Hour), base.Add(-time.Minute)
	for _, j := range []struct {
		desc, group, state string
		end                *time.Time
	}{
		{"plain-old", "", "Finished", &old},
		{"old-a", "g-old", "Finished", &old},
		{"old-b", "g-old", "Finished", &old},
		{"mixed-old", "g-mixed", "Finished", &old},
		{"mixed-new", "g-mixed", "Finished", &recent},
		{"run-old", "g-run", "Finished", &old},
		{"run-running", "g-run", "Running", nil},
	} {
		var grp *string
		if j.group != "" {
			grp = &j.group
		}
		l.exec(t, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
		    requested_device_type_id, state, token, end_time, target_group)
		    SELECT 1, $1, $2, 'x', 'x', id, $3, 't', $4, $5 FROM device_types WHERE name = 'bbb'`,
			l.user.ID, j.desc, j.state, j.end, grp)
	}
	pol, err := ParsePolicy([]byte("default: {jobs: {max_age: 60d}}"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewRetention(l.st.Pool(), store.DefaultRealm, *pol, nil).RunOnce(l.ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := l.st.Pool().Query(l.ctx, `SELECT description FROM jobs ORDER BY description`)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		left = append(left, d)
	}
	rows.Close()
	want := "mixed-new mixed-old run-old run-running"
	if got := strings.Join(left, " "); got != want || rep.Jobs != 3 {
		t.Errorf("left %q after deleting %d, want %q after 3", got, rep.Jobs, want)
	}
}

// Realm 0 applies the policy to every realm; a realm's own retention
// leaves the others alone.
func TestRetentionRealms(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	blue, err := l.st.CreateRealm(l.ctx, "blue", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.st.CreateDeviceType(l.ctx, blue.ID, store.NewDeviceType{Name: "bbb"}); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC()
	old := base.Add(-100 * 24 * time.Hour)
	for _, j := range []struct {
		desc  string
		realm int64
	}{{"default-old", store.DefaultRealm}, {"blue-old", blue.ID}} {
		l.exec(t, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
		    requested_device_type_id, state, token, end_time)
		    SELECT $2, $1, $3, 'x', 'x', id, 'Finished', 't', $4 FROM device_types WHERE name = 'bbb' AND realm_id = $2`,
			l.user.ID, j.realm, j.desc, old)
	}
	pol, err := ParsePolicy([]byte("default: {jobs: {max_age: 60d}}"))
	if err != nil {
		t.Fatal(err)
	}
	left := func() string {
		var s string
		if err := l.st.Pool().QueryRow(l.ctx, `SELECT coalesce(string_agg(description, ' ' ORDER BY description), '') FROM jobs`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := NewRetention(l.st.Pool(), blue.ID, *pol, nil).RunOnce(l.ctx, base); err != nil {
		t.Fatal(err)
	}
	if got := left(); got != "default-old" {
		t.Errorf("after blue's retention: %q, want default-old", got)
	}
	l.exec(t, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
	    requested_device_type_id, state, token, end_time)
	    SELECT $2, $1, 'blue-old-2', 'x', 'x', id, 'Finished', 't', $3 FROM device_types WHERE name = 'bbb' AND realm_id = $2`,
		l.user.ID, blue.ID, old)
	if _, err := NewRetention(l.st.Pool(), 0, *pol, nil).RunOnce(l.ctx, base); err != nil {
		t.Fatal(err)
	}
	if got := left(); got != "" {
		t.Errorf("after every realm's retention: %q left, want none", got)
	}
}
