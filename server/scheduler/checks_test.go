package scheduler

import (
	"testing"
	"time"

	"golava/server/store"
)

func TestDeviceIdle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		state string
		want  bool
	}{
		{store.DeviceIdle, true},
		{store.DeviceReserved, false},
		{store.DeviceRunning, false},
	} {
		if got := deviceIdle(&Device{State: tc.state}); got != tc.want {
			t.Errorf("deviceIdle(%s) = %v, want %v", tc.state, got, tc.want)
		}
	}
}

func TestHealthRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		health       string
		jobs, checks bool
	}{
		{store.DeviceGood, true, true},
		{store.DeviceUnknown, true, true},
		{store.DeviceLooping, false, true},
		{store.DeviceBad, false, false},
		{store.DeviceMaintenance, false, false},
		{store.DeviceRetired, false, false},
	} {
		if got := healthTakesJobs(tc.health); got != tc.jobs {
			t.Errorf("healthTakesJobs(%s) = %v, want %v", tc.health, got, tc.jobs)
		}
		if got := healthTakesHealthCheck(tc.health); got != tc.checks {
			t.Errorf("healthTakesHealthCheck(%s) = %v, want %v", tc.health, got, tc.checks)
		}
	}
}

func TestWorkerUsable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		w    *Worker
		want bool
	}{
		{"online active", &Worker{State: store.WorkerOnline, Health: store.WorkerActive}, true},
		{"offline", &Worker{State: store.WorkerOffline, Health: store.WorkerActive}, false},
		{"maintenance", &Worker{State: store.WorkerOnline, Health: store.WorkerMaintenance}, false},
		{"retired", &Worker{State: store.WorkerOnline, Health: store.WorkerRetired}, false},
		{"no worker", nil, false},
	} {
		if got := workerUsable(tc.w); got != tc.want {
			t.Errorf("%s: workerUsable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWorkerHasRoom(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit, busy int
		want        bool
	}{
		{0, 100, true},
		{2, 1, true},
		{2, 2, false},
		{2, 3, false},
	} {
		if got := workerHasRoom(&Worker{JobLimit: tc.limit}, tc.busy); got != tc.want {
			t.Errorf("workerHasRoom(limit %d, busy %d) = %v, want %v", tc.limit, tc.busy, got, tc.want)
		}
	}
}

func TestTypeMatches(t *testing.T) {
	t.Parallel()
	d := &Device{ID: 7, Type: 3}
	for _, tc := range []struct {
		name string
		j    Job
		want bool
	}{
		{"same type", Job{DeviceType: 3}, true},
		{"other type", Job{DeviceType: 4}, false},
		{"requested device", Job{Device: 7}, true},
		{"requested device and its type", Job{Device: 7, DeviceType: 3}, true},
		{"requested device, wrong type", Job{Device: 7, DeviceType: 4}, false},
		{"other device of the type", Job{Device: 8, DeviceType: 3}, false},
		{"no type no device", Job{}, false},
	} {
		if got := typeMatches(&tc.j, d); got != tc.want {
			t.Errorf("%s: typeMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHasTags(t *testing.T) {
	t.Parallel()
	dev := map[string]struct{}{"usb": {}, "hdmi": {}}
	for _, tc := range []struct {
		name string
		job  []string
		dev  map[string]struct{}
		want bool
	}{
		{"no tags", nil, nil, true},
		{"no job tags", nil, dev, true},
		{"subset", []string{"usb"}, dev, true},
		{"all", []string{"hdmi", "usb"}, dev, true},
		{"missing one", []string{"usb", "sata"}, dev, false},
		{"device has none", []string{"usb"}, nil, false},
	} {
		if got := hasTags(tc.job, tc.dev); got != tc.want {
			t.Errorf("%s: hasTags = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTypeSchedulable(t *testing.T) {
	t.Parallel()
	if !typeSchedulable(&DeviceType{Display: true}) {
		t.Error("displayed type not schedulable")
	}
	if typeSchedulable(&DeviceType{Display: false}) {
		t.Error("hidden type schedulable")
	}
	if typeSchedulable(nil) {
		t.Error("unknown type schedulable")
	}
}

func TestHealthCheckDue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	hours := &DeviceType{HasHealthCheck: true, HealthFrequency: 24}
	perJobs := &DeviceType{HasHealthCheck: true, HealthFrequency: 5, HealthPerJobs: true}
	for _, tc := range []struct {
		name string
		dt   *DeviceType
		d    Device
		want bool
	}{
		{"no health check", &DeviceType{}, Device{Health: store.DeviceUnknown}, false},
		{"disabled", &DeviceType{HasHealthCheck: true, HealthCheckDisabled: true}, Device{Health: store.DeviceUnknown}, false},
		{"unknown", hours, Device{Health: store.DeviceUnknown, LastHealthCheck: at(time.Minute)}, true},
		{"looping", hours, Device{Health: store.DeviceLooping, LastHealthCheck: at(time.Minute)}, true},
		{"good never checked", hours, Device{Health: store.DeviceGood}, true},
		{"good recent", hours, Device{Health: store.DeviceGood, LastHealthCheck: at(23 * time.Hour)}, false},
		{"good expired", hours, Device{Health: store.DeviceGood, LastHealthCheck: at(25 * time.Hour)}, true},
		{"good few jobs", perJobs, Device{Health: store.DeviceGood, LastHealthCheck: at(time.Hour), JobsSinceHealthCheck: 4}, false},
		{"good enough jobs", perJobs, Device{Health: store.DeviceGood, LastHealthCheck: at(time.Hour), JobsSinceHealthCheck: 5}, true},
		{"bad", hours, Device{Health: store.DeviceBad}, false},
		{"maintenance", hours, Device{Health: store.DeviceMaintenance}, false},
		{"retired", hours, Device{Health: store.DeviceRetired}, false},
	} {
		if got := healthCheckDue(tc.dt, &tc.d, now); got != tc.want {
			t.Errorf("%s: healthCheckDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}
