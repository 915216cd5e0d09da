package store

// Job states and healths, device states and healths, worker states and
// healths: LAVA's names, stored as text.
const (
	JobSubmitted  = "Submitted"
	JobScheduling = "Scheduling"
	JobScheduled  = "Scheduled"
	JobRunning    = "Running"
	JobCanceling  = "Canceling"
	JobFinished   = "Finished"

	JobHealthUnknown    = "Unknown"
	JobHealthComplete   = "Complete"
	JobHealthIncomplete = "Incomplete"
	JobHealthCanceled   = "Canceled"

	DeviceIdle     = "Idle"
	DeviceReserved = "Reserved"
	DeviceRunning  = "Running"

	DeviceGood        = "Good"
	DeviceUnknown     = "Unknown"
	DeviceLooping     = "Looping"
	DeviceBad         = "Bad"
	DeviceMaintenance = "Maintenance"
	DeviceRetired     = "Retired"

	WorkerOnline  = "Online"
	WorkerOffline = "Offline"

	WorkerActive      = "Active"
	WorkerMaintenance = "Maintenance"
	WorkerRetired     = "Retired"
)

// jobTransitions lists the allowed job state changes; everything else is
// ErrTransition. Submitted->Finished is a cancel before scheduling.
var jobTransitions = map[string][]string{
	JobSubmitted:  {JobScheduling, JobScheduled, JobCanceling, JobFinished},
	JobScheduling: {JobScheduled, JobSubmitted, JobCanceling, JobFinished},
	JobScheduled:  {JobRunning, JobCanceling, JobFinished, JobSubmitted},
	JobRunning:    {JobCanceling, JobFinished},
	JobCanceling:  {JobFinished},
	JobFinished:   {},
}

// JobTransitionAllowed reports whether a job may move from one state to another.
// Staying in the same state is allowed (idempotent worker posts).
func JobTransitionAllowed(from, to string) bool {
	if from == to {
		return true
	}
	for _, s := range jobTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
