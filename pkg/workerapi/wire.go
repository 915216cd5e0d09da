package workerapi

// Version is the LAVA version golava speaks; workers and servers compare it.
const Version = "2023.01"

// Prefix is the path of the worker API below the server URL.
const Prefix = "/scheduler/internal/v1/"

// Header carrying a worker or job token.
const TokenHeader = "LAVA-Token"

// Job states a worker posts (the server capitalizes them).
const (
	StateRunning  = "RUNNING"
	StateFinished = "FINISHED"
)

// Paths below Prefix.
//
//	POST workers/                     register: form name [,username,password] -> Registration
//	GET  workers/<name>/?version=V    ping (worker token) -> PingReply
//	GET  jobs/<id>/                   job token -> JobConfig
//	POST jobs/<id>/                   job token; form state=RUNNING or
//	                                  state=FINISHED,result,error_type,errors,description -> {}
//	POST jobs/<id>/logs/              job token; form lines, index -> LogReply

// Registration is the reply of POST workers/.
type Registration struct {
	Name  string `json:"name"`
	Token string `json:"token"`
}

// JobRef names a job and its token in a ping reply.
type JobRef struct {
	ID    int64  `json:"id"`
	Token string `json:"token"`
}

// PingReply lists what the worker must do.
type PingReply struct {
	Cancel  []JobRef `json:"cancel"`
	Running []JobRef `json:"running"`
	Start   []JobRef `json:"start"`
}

// JobConfig is the reply of GET jobs/<id>/: five YAML documents as strings.
type JobConfig struct {
	Definition string `json:"definition"`
	Device     string `json:"device"`
	Dispatcher string `json:"dispatcher"`
	Env        string `json:"env"`
	EnvDUT     string `json:"env-dut"`
}

// LogReply acknowledges a log upload: the number of lines of the request,
// including those the server had already stored and skipped.
type LogReply struct {
	LineCount int `json:"line_count"`
}

// ErrorReply is the body of every non-200 reply.
type ErrorReply struct {
	Error string `json:"error"`
}

// Finish holds the fields of the final POST jobs/<id>/ with state=FINISHED.
type Finish struct {
	Result      string // "pass" or "fail"
	ErrorType   string // "" for pass; Bug, Configuration, Infrastructure, Job, Test, Canceled, Timeout...
	Errors      string // lava-run's stderr
	Description string // description.yaml
}
