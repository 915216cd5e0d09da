package scheduler

import (
	"time"

	"golava/server/store"
)

// State is the read-only view one pass decides over. The store fills it
// (store.SchedulerState); tests build it by hand. The element types are the
// store's plain row values, so a pass copies nothing.
type State struct {
	// Now is the pass's clock, used for time-based health-check frequency.
	Now time.Time
	// Seed spreads jobs over equivalent devices (LAVA orders devices at
	// random so the same board does not take every job). Zero keeps the
	// devices in hostname order, which tests rely on.
	Seed uint64

	Jobs        []Job
	Devices     []Device
	DeviceTypes []DeviceType
	Workers     []Worker
	// Shares are the weighted groups of fair share by id (Job.Share); nil
	// or empty leaves the queue in plain priority then submission order.
	Shares map[int64]Share
}

type (
	// Job is one queued job or MultiNode sub-job.
	Job = store.SchedJob
	// Device is a device that could take a job or a health check.
	Device = store.SchedDevice
	// DeviceType carries the health-check policy of its devices.
	DeviceType = store.SchedDeviceType
	// Worker is a lab host with its count of busy devices.
	Worker = store.SchedWorker
	// Share is a fair-share group: its weight and its running jobs.
	Share = store.SchedShare
	// Placement puts one job on one device (0 for a dynamic connection).
	Placement = store.Placement
)

// Plan is the outcome of one pass, applied by the store in order: health
// checks first, then assignments from the highest priority down.
type Plan struct {
	HealthChecks []HealthCheck
	Assignments  []Assignment
}

// HealthCheck asks the store to create the device type's health-check job
// on the device and schedule it there.
type HealthCheck struct {
	DeviceID   int64
	DeviceType int64
}

// Assignment is applied atomically: one job, or every sub-job of a
// MultiNode group.
type Assignment struct {
	Group      string
	Placements []Placement
}
