package store_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"golava/pkg/jobdef"
	"golava/pkg/workerapi"
	"golava/server/store"
	"golava/server/store/storetest"
)

// jobsBundle is a lab with two users, a superuser, a group, a device type
// "qemu" with one device on worker "w1", and a tag "usb" on that device.
type jobsBundle struct {
	st                  *store.Store
	ctx                 context.Context
	alice, bob, admin   *store.User
	deviceID, workerID  int64
	deviceTypeID, tagID int64
	groupID             int64
}

func setupJobs(t testing.TB) *jobsBundle {
	t.Helper()
	b := &jobsBundle{st: storetest.New(t), ctx: context.Background()}
	b.alice = b.user(t, "alice", false)
	b.bob = b.user(t, "bob", false)
	b.admin = b.user(t, "root", true)
	b.exec(t, `INSERT INTO groups (name) VALUES ('lab')`)
	b.groupID = b.id(t, `SELECT id FROM groups WHERE name = 'lab'`)
	b.exec(t, `INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2)`, b.bob.ID, b.groupID)
	b.deviceTypeID = b.id(t, `INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu') RETURNING id`)
	b.exec(t, `INSERT INTO aliases (realm_id, name, device_type_id) VALUES (1, 'kvm', $1)`, b.deviceTypeID)
	b.workerID = b.id(t, `INSERT INTO workers (realm_id, hostname, dispatcher_config, env)
VALUES (1, 'w1', 'prefix: x-', 'overrides: {A: b}') RETURNING id`)
	b.deviceID = b.id(t, `INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health, dictionary)
VALUES (1, 'qemu-01', $1, $2, 'Good', '{% extends ''qemu.jinja2'' %}') RETURNING id`, b.deviceTypeID, b.workerID)
	b.tagID = b.id(t, `INSERT INTO tags (realm_id, name) VALUES (1, 'usb') RETURNING id`)
	b.exec(t, `INSERT INTO device_tags (device_id, tag_id) VALUES ($1, $2)`, b.deviceID, b.tagID)
	return b
}

func (b *jobsBundle) exec(t testing.TB, q string, args ...any) {
	t.Helper()
	if _, err := b.st.Pool().Exec(b.ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (b *jobsBundle) id(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var id int64
	if err := b.st.Pool().QueryRow(b.ctx, q, args...).Scan(&id); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return id
}

func (b *jobsBundle) user(t testing.TB, name string, su bool) *store.User {
	t.Helper()
	id := b.id(t, `INSERT INTO users (username, is_superuser) VALUES ($1, $2) RETURNING id`, name, su)
	return &store.User{ID: id, Username: name, IsSuperuser: su, IsActive: true}
}

func (b *jobsBundle) count(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	return b.id(t, q, args...)
}

const testJob = `job_name: test job
device_type: qemu
visibility: public
priority: high
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: minimal
`

func (b *jobsBundle) submit(t testing.TB, u *store.User, def string) []int64 {
	t.Helper()
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ids, err := b.st.SubmitJob(b.ctx, store.DefaultRealm, u, def, job)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return ids
}

// schedule puts job id on the bundle's device, as the scheduler would.
func (b *jobsBundle) schedule(t testing.TB, id int64) {
	b.exec(t, `UPDATE jobs SET state = 'Scheduled', actual_device_id = $2 WHERE id = $1`, id, b.deviceID)
	b.exec(t, `UPDATE devices SET state = 'Reserved' WHERE id = $1`, b.deviceID)
}

func TestSubmitJob(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	ids := b.submit(t, b.alice, testJob)
	if len(ids) != 1 {
		t.Fatalf("ids = %v", ids)
	}
	j, err := b.st.GetJob(b.ctx, store.DefaultRealm, ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if j.Description != "test job" || j.Priority != 100 || j.State != store.JobSubmitted ||
		j.Submitter != "alice" || j.RequestedDeviceType == nil || *j.RequestedDeviceType != "qemu" ||
		j.OriginalDefinition != testJob || j.Visibility != "public" || !j.IsPublic {
		t.Errorf("job = %+v", j)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(j.Token) {
		t.Errorf("token %q", j.Token)
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE topic = 'testjob' AND data LIKE '%"state": "Submitted"%'`); n != 1 {
		t.Errorf("%d submitted events", n)
	}
	// By alias, with a tag the device has.
	def := strings.Replace(testJob, "device_type: qemu", "device_type: kvm\ntags: [usb]", 1)
	ids = b.submit(t, b.alice, def)
	j, _ = b.st.GetJob(b.ctx, store.DefaultRealm, ids[0], b.alice)
	if len(j.Tags) != 1 || j.Tags[0] != "usb" || *j.RequestedDeviceType != "qemu" {
		t.Errorf("alias/tags job = %+v", j)
	}
}

func TestSubmitJobRefused(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	b.exec(t, `INSERT INTO device_types (realm_id, name) VALUES (1, 'empty')`)
	b.exec(t, `INSERT INTO tags (realm_id, name) VALUES (1, 'gpu')`)
	tests := []struct{ name, from, to, want string }{
		{"unknown type", "device_type: qemu", "device_type: nope", "Device type 'nope' is unavailable."},
		{"no device", "device_type: qemu", "device_type: empty", "No devices of type empty are available."},
		{"unknown tag", "priority: high", "priority: high\ntags: [zz]", "Device tag 'zz' does not exist in the database."},
		{"untagged", "priority: high", "priority: high\ntags: [usb, gpu]", "which have all of the tags 'usb, gpu'"},
		{"no group", "visibility: public", "visibility: {group: [nobody]}", "No known groups"},
	}
	for _, tt := range tests {
		def := strings.Replace(testJob, tt.from, tt.to, 1)
		job, err := jobdef.Parse([]byte(def))
		if err != nil {
			t.Fatalf("%s: parse: %v", tt.name, err)
		}
		_, err = b.st.SubmitJob(b.ctx, store.DefaultRealm, b.alice, def, job)
		var se *store.SubmitError
		if !errors.As(err, &se) || !strings.Contains(se.Msg, tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if n := b.count(t, `SELECT count(*) FROM jobs`); n != 0 {
		t.Errorf("%d jobs stored after refusals", n)
	}
	if n := b.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events stored after refusals", n)
	}
}

const multinodeJob = `job_name: mn
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode:
    timeout: {minutes: 6}
    roles:
      server: {device_type: qemu, count: 1, essential: true}
      client: {device_type: qemu, count: 1}
actions:
- boot: {method: minimal, role: [server, client]}
- test: {role: [client], definitions: []}
`

func TestSubmitMultinode(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	ids := b.submit(t, b.alice, multinodeJob)
	if len(ids) != 2 {
		t.Fatalf("ids = %v", ids)
	}
	var groups []string
	for i, id := range ids {
		j, err := b.st.GetJob(b.ctx, store.DefaultRealm, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"server", "client"}[i]
		if j.Role != want || j.TargetGroup == nil || j.SubID != strings.Join([]string{itoa(ids[0]), itoa(int64(i))}, ".") {
			t.Errorf("job %d: role %q sub %q group %v", id, j.Role, j.SubID, j.TargetGroup)
		}
		groups = append(groups, *j.TargetGroup)
		for _, s := range []string{"role: " + want, "sub_id: " + itoa(int64(i)), "group_size: 2", "target_group: " + *j.TargetGroup} {
			if !strings.Contains(j.Definition, s) {
				t.Errorf("job %d definition lacks %q:\n%s", id, s, j.Definition)
			}
		}
		if want == "server" && strings.Contains(j.Definition, "test:") {
			t.Errorf("server got the client's test action:\n%s", j.Definition)
		}
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(j.Definition), &doc); err != nil || doc["device_type"] != "qemu" {
			t.Errorf("split definition of %s: %v\n%s", want, err, j.Definition)
		}
	}
	if groups[0] != groups[1] {
		t.Errorf("groups %v", groups)
	}
	ex, err := b.st.JobExtras(b.ctx, ids)
	if err != nil || ex[ids[0]].MultinodeDefinition != multinodeJob {
		t.Errorf("extras %v %v", ex, err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestJobVisibility(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	pub := b.submit(t, b.alice, testJob)[0]
	personal := b.submit(t, b.alice, strings.Replace(testJob, "visibility: public", "visibility: personal", 1))[0]
	group := b.submit(t, b.alice, strings.Replace(testJob, "visibility: public", "visibility: {group: [lab]}", 1))[0]
	tests := []struct {
		viewer *store.User
		name   string
		see    []int64
	}{
		{nil, "anonymous", []int64{pub}},
		{b.alice, "submitter", []int64{pub, personal, group}},
		{b.bob, "group member", []int64{pub, group}},
		{b.admin, "superuser", []int64{pub, personal, group}},
	}
	for _, tt := range tests {
		jobs, count, err := b.st.ListJobs(b.ctx, store.DefaultRealm, tt.viewer, store.JobFilter{Ordering: "id"})
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		if formatIDs(got) != formatIDs(tt.see) || count != int64(len(tt.see)) {
			t.Errorf("%s sees %v (count %d), want %v", tt.name, got, count, tt.see)
		}
		for _, id := range []int64{pub, personal, group} {
			_, err := b.st.GetJob(b.ctx, store.DefaultRealm, id, tt.viewer)
			visible := strings.Contains(formatIDs(tt.see), "["+itoa(id)+"]")
			if visible != (err == nil) || (!visible && !errors.Is(err, store.ErrNotFound)) {
				t.Errorf("%s get %d: %v (visible %v)", tt.name, id, err, visible)
			}
		}
	}
	if _, err := b.st.GetJob(b.ctx, 2, pub, b.admin); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("other realm: %v", err)
	}
}

func formatIDs(ids []int64) string {
	var s string
	for _, id := range ids {
		s += "[" + itoa(id) + "]"
	}
	return s
}

func TestListJobsFilters(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	var ids []int64
	for range 5 {
		ids = append(ids, b.submit(t, b.alice, testJob)[0])
	}
	b.schedule(t, ids[1])
	tests := []struct {
		name string
		f    store.JobFilter
		want []int64
		n    int64
	}{
		{"default newest first, page", store.JobFilter{Limit: 2}, []int64{ids[4], ids[3]}, 5},
		{"offset", store.JobFilter{Ordering: "id", Limit: 2, Offset: 3}, []int64{ids[3], ids[4]}, 5},
		{"state", store.JobFilter{States: []string{"Scheduled"}}, []int64{ids[1]}, 1},
		{"id gt lt", store.JobFilter{IDGt: ids[0], IDLt: ids[3], Ordering: "id"}, ids[1:3], 2},
		{"device", store.JobFilter{ActualDevice: "qemu-01"}, []int64{ids[1]}, 1},
		{"submitter", store.JobFilter{Submitter: "bob"}, nil, 0},
		{"device type", store.JobFilter{DeviceType: "qemu", Limit: 1}, []int64{ids[4]}, 5},
	}
	for _, tt := range tests {
		jobs, n, err := b.st.ListJobs(b.ctx, store.DefaultRealm, b.alice, tt.f)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []int64
		for _, j := range jobs {
			got = append(got, j.ID)
		}
		if formatIDs(got) != formatIDs(tt.want) || n != tt.n {
			t.Errorf("%s: got %v/%d, want %v/%d", tt.name, got, n, tt.want, tt.n)
		}
	}
	if _, _, err := b.st.ListJobs(b.ctx, 1, nil, store.JobFilter{Ordering: "token"}); !errors.Is(err, store.ErrBadFilter) {
		t.Errorf("bad ordering: %v", err)
	}
}

func (b *jobsBundle) deviceState(t testing.TB) (string, string) {
	t.Helper()
	var s, h string
	if err := b.st.Pool().QueryRow(b.ctx, `SELECT state, health FROM devices WHERE id = $1`, b.deviceID).Scan(&s, &h); err != nil {
		t.Fatal(err)
	}
	return s, h
}

func TestWorkerJobFlow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		healthCheck bool
		finish      workerapi.Finish
		jobHealth   string
		devHealth   string
	}{
		{"pass", false, workerapi.Finish{Result: "pass"}, "Complete", "Good"},
		{"job error", false, workerapi.Finish{Result: "fail", ErrorType: "Job", Errors: "boom"}, "Incomplete", "Good"},
		{"infrastructure", false, workerapi.Finish{Result: "fail", ErrorType: "Infrastructure"}, "Incomplete", "Unknown"},
		{"bug", false, workerapi.Finish{Result: "fail", ErrorType: "Bug"}, "Incomplete", "Unknown"},
		{"health check pass", true, workerapi.Finish{Result: "pass"}, "Complete", "Good"},
		{"health check fail", true, workerapi.Finish{Result: "fail", ErrorType: "Test"}, "Incomplete", "Bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupJobs(t)
			id := b.submit(t, b.alice, testJob)[0]
			b.exec(t, `UPDATE jobs SET health_check = $2 WHERE id = $1`, id, tt.healthCheck)
			b.schedule(t, id)
			j, _ := b.st.GetJob(b.ctx, 1, id, b.admin)
			wj, err := b.st.JobForWorker(b.ctx, id, j.Token)
			if err != nil || wj.Worker != "w1" || wj.DispatcherConfig != "prefix: x-" || wj.DeviceType != "qemu" || wj.Env != "overrides: {A: b}" {
				t.Fatalf("JobForWorker = %+v, %v", wj, err)
			}
			if _, err := b.st.JobForWorker(b.ctx, id, wrongToken(j.Token)); !errors.Is(err, store.ErrInvalidToken) {
				t.Errorf("bad token: %v", err)
			}
			for range 2 { // the RUNNING post is idempotent
				if err := b.st.JobStarted(b.ctx, id); err != nil {
					t.Fatal(err)
				}
			}
			if s, _ := b.deviceState(t); s != "Running" {
				t.Errorf("device %s after start", s)
			}
			tt.finish.Description = "pipeline: []"
			for range 2 {
				if err := b.st.JobFinished(b.ctx, id, tt.finish); err != nil {
					t.Fatal(err)
				}
			}
			j, _ = b.st.GetJob(b.ctx, 1, id, b.admin)
			if j.State != "Finished" || j.Health != tt.jobHealth || j.StartTime == nil || j.EndTime == nil ||
				j.PipelineDescription == nil || *j.PipelineDescription != "pipeline: []" || j.FailureType != tt.finish.ErrorType {
				t.Errorf("job = %+v", j)
			}
			if tt.finish.Errors != "" && (j.FailureComment == nil || *j.FailureComment != tt.finish.Errors) {
				t.Errorf("failure comment %v", j.FailureComment)
			}
			if s, h := b.deviceState(t); s != "Idle" || h != tt.devHealth {
				t.Errorf("device %s/%s, want Idle/%s", s, h, tt.devHealth)
			}
			jobEvents := b.count(t, `SELECT count(*) FROM events WHERE topic = 'testjob'`)
			devEvents := b.count(t, `SELECT count(*) FROM events WHERE topic = 'device'`)
			if jobEvents != 3 || devEvents != 2 { // Submitted, Running, Finished; Running, Idle
				t.Errorf("%d job events, %d device events", jobEvents, devEvents)
			}
			if err := b.st.JobStarted(b.ctx, id); err != nil {
				t.Errorf("RUNNING after FINISHED: %v", err)
			}
			if j2, _ := b.st.GetJob(b.ctx, 1, id, b.admin); j2.State != "Finished" {
				t.Errorf("finished job went back to %s", j2.State)
			}
		})
	}
}

func TestJobFinishedErrors(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	if err := b.st.JobFinished(b.ctx, id, workerapi.Finish{Result: "maybe"}); !errors.Is(err, store.ErrInvalidResult) {
		t.Errorf("bad result: %v", err)
	}
	if err := b.st.JobStarted(b.ctx, id); !errors.Is(err, store.ErrTransition) {
		t.Errorf("Submitted -> Running: %v", err)
	}
	if err := b.st.JobStarted(b.ctx, id+100); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	if err := b.st.CheckJobToken(b.ctx, id, "nope"); !errors.Is(err, store.ErrInvalidToken) {
		t.Errorf("token: %v", err)
	}
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	queued := b.submit(t, b.alice, testJob)[0]
	running := b.submit(t, b.alice, testJob)[0]
	b.schedule(t, running)
	if err := b.st.JobStarted(b.ctx, running); err != nil {
		t.Fatal(err)
	}
	if err := b.st.CancelJob(b.ctx, 1, queued, b.bob); !errors.Is(err, store.ErrForbidden) {
		t.Errorf("bob cancels: %v", err)
	}
	if err := b.st.CancelJob(b.ctx, 1, queued, b.alice); err != nil {
		t.Fatal(err)
	}
	if err := b.st.CancelJob(b.ctx, 1, running, b.admin); err != nil {
		t.Fatal(err)
	}
	j, _ := b.st.GetJob(b.ctx, 1, queued, b.alice)
	if j.State != "Finished" || j.Health != "Canceled" {
		t.Errorf("queued job %s/%s", j.State, j.Health)
	}
	j, _ = b.st.GetJob(b.ctx, 1, running, b.alice)
	if j.State != "Canceling" {
		t.Errorf("running job %s", j.State)
	}
	if err := b.st.JobFinished(b.ctx, running, workerapi.Finish{Result: "fail", ErrorType: "Canceled"}); err != nil {
		t.Fatal(err)
	}
	j, _ = b.st.GetJob(b.ctx, 1, running, b.alice)
	if j.State != "Finished" || j.Health != "Canceled" {
		t.Errorf("canceled job %s/%s", j.State, j.Health)
	}
}

func TestMultinodeEssentialFailureCancelsGroup(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	b.exec(t, `INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health) VALUES (1, 'qemu-02', $1, $2, 'Good')`, b.deviceTypeID, b.workerID)
	ids := b.submit(t, b.alice, multinodeJob)
	b.schedule(t, ids[0])
	if err := b.st.JobStarted(b.ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := b.st.JobFinished(b.ctx, ids[0], workerapi.Finish{Result: "fail", ErrorType: "Test"}); err != nil {
		t.Fatal(err)
	}
	j, _ := b.st.GetJob(b.ctx, 1, ids[1], b.alice)
	if j.State != "Finished" || j.Health != "Canceled" {
		t.Errorf("client after essential server failed: %s/%s", j.State, j.Health)
	}
}

// wrongToken differs from tok in its first character, whatever that is.
func wrongToken(tok string) string {
	if tok[0] == 'x' {
		return "y" + tok[1:]
	}
	return "x" + tok[1:]
}
