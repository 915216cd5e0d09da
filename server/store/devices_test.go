package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golava/server/store"
	"golava/server/store/storetest"
)

// lab creates device types qemu and bbb, worker w1 and devices.
func lab(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	for _, dt := range []string{"qemu", "bbb"} {
		if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: dt}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.CreateWorker(ctx, store.DefaultRealm, "w1", ""); err != nil {
		t.Fatal(err)
	}
	devs := []store.NewDevice{
		{Hostname: "qemu-01", DeviceType: "qemu", Worker: "w1", Dictionary: "{% extends 'qemu.jinja2' %}", Tags: []string{"kvm", "fast", "kvm"}, Health: store.DeviceGood},
		{Hostname: "qemu-02", DeviceType: "qemu", Worker: "w1", Tags: []string{"kvm"}},
		{Hostname: "bbb-01", DeviceType: "bbb", Description: "on the shelf"},
		{Hostname: "bbb-old", DeviceType: "bbb", Health: store.DeviceRetired},
	}
	for _, d := range devs {
		if _, err := st.CreateDevice(ctx, store.DefaultRealm, d); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestCreateDevice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := lab(t)
	d, err := st.DeviceByName(ctx, store.DefaultRealm, "qemu-01")
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceType != "qemu" || d.Worker == nil || *d.Worker != "w1" || d.State != store.DeviceIdle ||
		d.Health != store.DeviceGood || !d.IsPublic || d.CurrentJob != nil || strings.Join(d.Tags, ",") != "fast,kvm" ||
		d.Dictionary != "{% extends 'qemu.jinja2' %}" {
		t.Errorf("device = %+v", d)
	}
	if d, _ := st.DeviceByName(ctx, store.DefaultRealm, "bbb-01"); d.Worker != nil || d.Health != store.DeviceUnknown {
		t.Errorf("device without worker = %+v", d)
	}
	tests := []struct {
		name string
		nd   store.NewDevice
		want error
	}{
		{"taken", store.NewDevice{Hostname: "qemu-01", DeviceType: "qemu"}, store.ErrConflict},
		{"no type", store.NewDevice{Hostname: "x1", DeviceType: "nope"}, store.ErrNotFound},
		{"no worker", store.NewDevice{Hostname: "x2", DeviceType: "qemu", Worker: "nope"}, store.ErrNotFound},
	}
	for _, tt := range tests {
		if _, err := st.CreateDevice(ctx, store.DefaultRealm, tt.nd); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	for _, nd := range []store.NewDevice{
		{Hostname: "bad host", DeviceType: "qemu"},
		{Hostname: "x3", DeviceType: "qemu", Health: "Sick"},
		{Hostname: "x4", DeviceType: "qemu", Tags: []string{"no spaces"}},
	} {
		if _, err := st.CreateDevice(ctx, store.DefaultRealm, nd); err == nil {
			t.Errorf("%+v accepted", nd)
		}
	}
	if _, err := st.DeviceByName(ctx, store.DefaultRealm, "x4"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("device with a bad tag was kept: %v", err)
	}
	ev := eventsOf(t, st, "device")
	if len(ev) != 4 || ev[0] != `{"health": "Good", "state": "Idle", "device": "qemu-01", "device_type": "qemu", "worker": "w1"}` ||
		ev[2] != `{"health": "Unknown", "state": "Idle", "device": "bbb-01", "device_type": "bbb", "worker": null}` {
		t.Errorf("device events = %q", ev)
	}
}

func TestDeviceHealthDictionaryTags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := lab(t)
	d, err := st.SetDeviceHealth(ctx, store.DefaultRealm, "qemu-02", store.DeviceMaintenance)
	if err != nil || d.Health != store.DeviceMaintenance {
		t.Fatalf("SetDeviceHealth = %+v, %v", d, err)
	}
	if _, err := st.SetDeviceHealth(ctx, store.DefaultRealm, "qemu-02", store.DeviceMaintenance); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetDeviceHealth(ctx, store.DefaultRealm, "qemu-02", "Sick"); err == nil {
		t.Error("health Sick accepted")
	}
	if _, err := st.SetDeviceHealth(ctx, store.DefaultRealm, "nope", store.DeviceGood); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}
	ev := eventsOf(t, st, "device")
	if len(ev) != 5 || ev[4] != `{"health": "Maintenance", "state": "Idle", "device": "qemu-02", "device_type": "qemu", "worker": "w1"}` {
		t.Errorf("events = %q", ev)
	}

	if err := st.SetDeviceDictionary(ctx, store.DefaultRealm, "qemu-02", "{% set x = 1 %}"); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.DeviceByName(ctx, store.DefaultRealm, "qemu-02"); d.Dictionary != "{% set x = 1 %}" {
		t.Errorf("dictionary = %q", d.Dictionary)
	}
	if err := st.SetDeviceDictionary(ctx, store.DefaultRealm, "nope", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dictionary of unknown device: %v", err)
	}

	if err := st.SetDeviceTags(ctx, store.DefaultRealm, "qemu-02", []string{"usb", "kvm"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.DeviceByName(ctx, store.DefaultRealm, "qemu-02"); strings.Join(d.Tags, ",") != "kvm,usb" {
		t.Errorf("tags = %v", d.Tags)
	}
	if err := st.SetDeviceTags(ctx, store.DefaultRealm, "nope", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tags of unknown device: %v", err)
	}
	ids, err := st.TagIDs(ctx, store.DefaultRealm, []string{"kvm", "usb", "none"})
	if err != nil || len(ids) != 2 || ids["kvm"] == 0 || ids["usb"] == ids["kvm"] {
		t.Errorf("TagIDs = %v, %v", ids, err)
	}
}

func TestListDevicesAndTypes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := lab(t)
	f := func(field, op string, v ...string) []store.Filter {
		return []store.Filter{{Field: field, Op: op, Values: v}}
	}
	tests := []struct {
		name    string
		q       store.ListQuery
		retired bool
		want    string
		total   int64
	}{
		{"default hides retired", store.ListQuery{}, false, "bbb-01,qemu-01,qemu-02", 3},
		{"all", store.ListQuery{}, true, "bbb-01,bbb-old,qemu-01,qemu-02", 4},
		{"device type", store.ListQuery{Filters: f("device_type", "exact", "qemu")}, false, "qemu-01,qemu-02", 2},
		{"worker", store.ListQuery{Filters: f("worker_host", "exact", "w1")}, false, "qemu-01,qemu-02", 2},
		{"health in", store.ListQuery{Filters: f("health", "in", "Good", "Retired")}, true, "bbb-old,qemu-01", 2},
		{"tag", store.ListQuery{Filters: f(store.DeviceTagFilter, "exact", "fast")}, false, "qemu-01", 1},
		{"order page", store.ListQuery{Order: []string{"-hostname"}, Limit: 2}, false, "qemu-02,qemu-01", 3},
		{"offset past end", store.ListQuery{Offset: 10}, false, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := st.ListDevices(ctx, store.DefaultRealm, tt.q, tt.retired)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, d := range got {
				names = append(names, d.Hostname)
			}
			if strings.Join(names, ",") != tt.want || total != tt.total {
				t.Errorf("got %v (%d), want %s (%d)", names, total, tt.want, tt.total)
			}
		})
	}
	if _, _, err := st.ListDevices(ctx, store.DefaultRealm, store.ListQuery{Filters: f("dictionary", "exact", "x")}, false); !errors.Is(err, store.ErrInvalidFilter) {
		t.Errorf("filter on dictionary: %v", err)
	}

	types, total, err := st.ListDeviceTypes(ctx, store.DefaultRealm, store.ListQuery{})
	if err != nil || total != 2 || len(types) != 2 {
		t.Fatalf("ListDeviceTypes = %+v %d %v", types, total, err)
	}
	bbb, qemu := types[0], types[1]
	if bbb.Name != "bbb" || bbb.Devices != 1 || bbb.Retired != 1 || bbb.Idle != 1 || qemu.Devices != 2 || qemu.Idle != 2 || qemu.Busy != 0 {
		t.Errorf("counts: bbb %+v qemu %+v", bbb, qemu)
	}
	if qemu.HealthFrequency != 24 || qemu.HealthDenominator != "hours" || !qemu.Display || len(qemu.Aliases) != 0 {
		t.Errorf("defaults: %+v", qemu)
	}
	if _, err := st.Pool().Exec(ctx, `INSERT INTO aliases (realm_id, name, device_type_id) VALUES (1, 'qemu-x86', $1)`, qemu.ID); err != nil {
		t.Fatal(err)
	}
	got, err := st.DeviceTypeByName(ctx, store.DefaultRealm, "qemu")
	if err != nil || len(got.Aliases) != 1 || got.Aliases[0] != "qemu-x86" {
		t.Errorf("DeviceTypeByName = %+v, %v", got, err)
	}
	if _, err := st.DeviceTypeByName(ctx, store.DefaultRealm, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown type: %v", err)
	}
	only, total, err := st.ListDeviceTypes(ctx, store.DefaultRealm, store.ListQuery{Filters: f("name", "contains", "em")})
	if err != nil || total != 1 || only[0].Name != "qemu" {
		t.Errorf("name contains: %+v %d %v", only, total, err)
	}
	if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: "qemu"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate type: %v", err)
	}
	for _, n := range []store.NewDeviceType{{Name: "bad name"}, {Name: "x", HealthDenominator: "days"}} {
		if _, err := st.CreateDeviceType(ctx, store.DefaultRealm, n); err == nil {
			t.Errorf("%+v accepted", n)
		}
	}
}

// insertJob adds a job row in a state on a device, as the scheduler would.
func insertJob(t *testing.T, st *store.Store, device, state, token string, group *string) int64 {
	t.Helper()
	ctx := context.Background()
	var id int64
	err := st.Pool().QueryRow(ctx, `
		WITH u AS (INSERT INTO users (username) VALUES ('sub-' || $4) ON CONFLICT (username) DO UPDATE SET email = '' RETURNING id)
		INSERT INTO jobs (realm_id, submitter_id, definition, original_definition, requested_device_type_id,
		    actual_device_id, state, token, target_group)
		SELECT 1, u.id, 'x', 'x', (SELECT id FROM device_types WHERE name = 'qemu'),
		    (SELECT id FROM devices WHERE hostname = $1), $2, $3, $5 FROM u RETURNING id`,
		device, state, token, token, group).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestJobsOfWorkerAndCurrentJob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := lab(t)
	w, err := st.WorkerByName(ctx, store.DefaultRealm, "w1")
	if err != nil {
		t.Fatal(err)
	}
	empty, err := st.JobsOfWorker(ctx, store.DefaultRealm, w.ID)
	if err != nil || len(empty.Start)+len(empty.Running)+len(empty.Cancel) != 0 || empty.Start == nil {
		t.Fatalf("no jobs: %+v, %v", empty, err)
	}
	group := "g-1"
	sched := insertJob(t, st, "qemu-01", store.JobScheduled, "tok-s", nil)
	running := insertJob(t, st, "qemu-02", store.JobRunning, "tok-r", &group)
	dynamic := insertJob(t, st, "", store.JobScheduled, "tok-d", &group) // device-less sub-job
	insertJob(t, st, "qemu-02", store.JobFinished, "tok-f", nil)
	cancel := insertJob(t, st, "bbb-01", store.JobCanceling, "tok-c", nil) // no worker: not listed
	_ = cancel

	got, err := st.JobsOfWorker(ctx, store.DefaultRealm, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Start) != 1 || got.Start[0] != (store.JobRef{ID: sched, Token: "tok-s"}) {
		t.Errorf("start = %+v", got.Start)
	}
	if len(got.Running) != 2 || got.Running[0].ID != running || got.Running[1] != (store.JobRef{ID: dynamic, Token: "tok-d"}) {
		t.Errorf("running = %+v (the dynamic sub-job follows its group)", got.Running)
	}
	if len(got.Cancel) != 0 {
		t.Errorf("cancel = %+v", got.Cancel)
	}
	d, err := st.DeviceByName(ctx, store.DefaultRealm, "qemu-02")
	if err != nil || d.CurrentJob == nil || *d.CurrentJob != running {
		t.Errorf("current job of qemu-02 = %+v, %v", d, err)
	}
	if d, _ := st.DeviceByName(ctx, store.DefaultRealm, "bbb-old"); d.CurrentJob != nil {
		t.Errorf("retired device has current job %v", *d.CurrentJob)
	}
}
