package scheduler

import (
	"time"

	"golava/server/store"
)

// The checkers below are the matching rules, one rule each, so each is
// tested alone; Decide combines them.

// deviceIdle: only an Idle device takes a job (Reserved and Running are busy).
func deviceIdle(d *Device) bool { return d.State == store.DeviceIdle }

// healthTakesJobs: normal jobs run on Good and Unknown devices; Looping
// devices only run health checks; Bad, Maintenance and Retired run nothing.
func healthTakesJobs(health string) bool {
	return health == store.DeviceGood || health == store.DeviceUnknown
}

// healthTakesHealthCheck: a health check may run on a Good, Unknown or
// Looping device.
func healthTakesHealthCheck(health string) bool {
	return healthTakesJobs(health) || health == store.DeviceLooping
}

// workerUsable: the device's worker must be Online and Active.
func workerUsable(w *Worker) bool {
	return w != nil && w.State == store.WorkerOnline && w.Health == store.WorkerActive
}

// workerHasRoom: a worker with a job limit takes no more jobs once that many
// of its devices are busy (LAVA's WorkerSummary.overused).
func workerHasRoom(w *Worker, busy int) bool {
	return w.JobLimit <= 0 || busy < w.JobLimit
}

// typeMatches: a job that names a device runs only there (and, if it also
// names a type, only if the device is of it); otherwise any device of the
// requested type.
func typeMatches(j *Job, d *Device) bool {
	if j.Device != 0 {
		return d.ID == j.Device && (j.DeviceType == 0 || j.DeviceType == d.Type)
	}
	return j.DeviceType != 0 && j.DeviceType == d.Type
}

// hasTags: the device has every tag the job asks for.
func hasTags(jobTags []string, deviceTags map[string]struct{}) bool {
	for _, t := range jobTags {
		if _, ok := deviceTags[t]; !ok {
			return false
		}
	}
	return true
}

// typeSchedulable: LAVA only schedules device types that are displayed.
func typeSchedulable(dt *DeviceType) bool { return dt != nil && dt.Display }

// typeRunsHealthChecks: the type has a health check and it is not disabled.
func typeRunsHealthChecks(dt *DeviceType) bool {
	return dt.HasHealthCheck && !dt.HealthCheckDisabled
}

// healthCheckDue: on a type that runs health checks, an Unknown or Looping
// device always needs one; a Good device needs one when it never had one or
// when the type's frequency (hours since the last check's submission, or
// normal jobs started since then) has elapsed.
func healthCheckDue(dt *DeviceType, d *Device, now time.Time) bool {
	if !typeRunsHealthChecks(dt) {
		return false
	}
	switch d.Health {
	case store.DeviceUnknown, store.DeviceLooping:
		return true
	case store.DeviceGood:
	default:
		return false
	}
	if d.LastHealthCheck == nil {
		return true
	}
	if dt.HealthPerJobs {
		return d.JobsSinceHealthCheck >= dt.HealthFrequency
	}
	return d.LastHealthCheck.Add(time.Duration(dt.HealthFrequency) * time.Hour).Before(now)
}
