package store

import "time"

// Row types shared by the store's methods. Names joined from other tables
// (device type name, worker hostname...) are filled by the queries that
// return them; they are never written back.

// User is an account; realms grant access to users (see the realm issue).
type User struct {
	ID          int64
	Username    string
	Email       string
	FirstName   string
	LastName    string
	IsSuperuser bool
	IsStaff     bool
	IsActive    bool
	DateJoined  time.Time
	LastLogin   *time.Time
	Groups      []string
	// RealmID and Realm name the realm this user acts in for one request:
	// the realm of the token or web session used. Looked up otherwise, a
	// user acts in the default realm.
	RealmID int64
	Realm   string
}

// Worker is a lab host running lava-worker.
type Worker struct {
	ID          int64
	RealmID     int64
	Hostname    string
	Description string
	State       string
	Health      string
	Version     string
	LastPing    *time.Time
	JobLimit    int
}

// DeviceType groups devices rendered by one template.
type DeviceType struct {
	ID                 int64
	RealmID            int64
	Name               string
	Description        string
	Display            bool
	HealthFrequency    int
	HealthDenominator  string
	DisableHealthCheck bool
}

// Device is one board.
type Device struct {
	ID           int64
	RealmID      int64
	Hostname     string
	DeviceTypeID int64
	DeviceType   string
	WorkerID     *int64
	Worker       *string
	Description  string
	State        string
	Health       string
	Dictionary   string
	IsPublic     bool
	Tags         []string
	// CurrentJob is the id of the job in Scheduled, Running or Canceling on it.
	CurrentJob *int64
	// CurrentSubID is the MultiNode sub id of that job ("" for single node).
	CurrentSubID        string
	LastHealthReportJob *int64
}

// Job is one test job (one sub-job of a MultiNode group).
type Job struct {
	ID                    int64
	RealmID               int64
	SubmitterID           int64
	Submitter             string
	Description           string
	Definition            string
	OriginalDefinition    string
	RequestedDeviceTypeID *int64
	RequestedDeviceType   *string
	RequestedDeviceID     *int64
	ActualDeviceID        *int64
	ActualDevice          *string
	Worker                *string
	Priority              int
	Visibility            string
	State                 string
	Health                string
	HealthCheck           bool
	IsPublic              bool
	Token                 string
	SubmitTime            time.Time
	StartTime             *time.Time
	EndTime               *time.Time
	LastUpdate            time.Time
	TargetGroup           *string
	SubID                 string
	Role                  string
	FailureComment        *string
	FailureType           string
	PipelineDescription   *string
	Tags                  []string
	LogLines              int64
}

// IsMultinode reports whether the job belongs to a MultiNode group.
func (j *Job) IsMultinode() bool { return j.TargetGroup != nil }

// TestCase is one result.
type TestCase struct {
	ID          int64
	JobID       int64
	Suite       string
	TestSet     *string
	Name        string
	Result      string
	Measurement *string
	Units       string
	Metadata    string
	Logged      time.Time
	StartLog    *int64
	EndLog      *int64
}
