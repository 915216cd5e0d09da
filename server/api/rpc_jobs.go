package api

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golava/pkg/jobdef"
	"golava/server/store"
	"golava/server/xmlrpc"
)

// scheduler.jobs.* and the job calls of scheduler.* (LAVA's
// SchedulerJobsAPI and SchedulerAPI).

func (s *Server) rpcJobs(m map[string]rpcMethod) {
	m["scheduler.jobs.submit"] = rpcMethod{min: 1, max: 1, sig: []string{"int", "string"}, fn: s.rpcSubmit,
		help: "Submit a job definition (YAML). Returns the job id, or the list of sub ids of a MultiNode job."}
	m["scheduler.submit_job"] = m["scheduler.jobs.submit"]
	m["scheduler.jobs.resubmit"] = rpcMethod{min: 1, max: 1, sig: []string{"int", "string"}, fn: s.rpcResubmit,
		help: "Submit the definition of a visible job again. Returns the new id(s)."}
	m["scheduler.resubmit_job"] = m["scheduler.jobs.resubmit"]
	m["scheduler.jobs.cancel"] = rpcMethod{min: 1, max: 1, sig: []string{"boolean", "string"}, fn: s.rpcCancel,
		help: "Cancel a job (the submitter or a superuser). Returns true."}
	m["scheduler.cancel_job"] = m["scheduler.jobs.cancel"]
	m["scheduler.jobs.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowJob,
		help: "Details of a job: id, description, device, device_type, health_check, pipeline, health, state, submitter, submit/start/end times, tags, visibility, failure_comment."}
	m["scheduler.jobs.definition"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"}, fn: s.rpcJobDefinition,
		help: "The original definition of a job (the whole MultiNode definition for a sub-job)."}
	m["scheduler.jobs.list"] = rpcMethod{min: 0, max: 6, sig: []string{"array", "string", "string", "int", "int", "int", "boolean"},
		fn: s.rpcListJobs, help: "list(state=None, health=None, start=0, limit=25, since=0, verbose=False): visible jobs, newest first (limit at most 100)."}
	m["scheduler.jobs.queue"] = rpcMethod{min: 0, max: 3, sig: []string{"array", "array", "int", "int"}, fn: s.rpcQueue,
		help: "queue(device_types=None, start=0, limit=25): visible Submitted jobs, newest first."}
	m["scheduler.jobs.logs"] = rpcMethod{min: 1, max: 3, sig: []string{"array", "string", "int", "int"}, fn: s.rpcLogs,
		help: "logs(job_id, start=0, end=None): [finished, base64 YAML of log lines start..end-1]."}
	m["scheduler.jobs.validate"] = rpcMethod{min: 1, max: 2, sig: []string{"struct", "string", "boolean"}, fn: s.rpcValidate,
		help: "validate(definition, strict=False): {} when valid, else {path, msg} of the first problem."}
	m["scheduler.jobs.configuration"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcJobConfig,
		help: "Configuration of a started job: [definition, device, dispatcher, env, env-dut], each a string or nil."}
	m["scheduler.job_state"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcJobField("job_state"),
		help: "{job_id, job_state} of a visible job (and sub_id for MultiNode)."}
	m["scheduler.job_health"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcJobField("job_health"),
		help: "{job_id, job_health} of a visible job (and sub_id for MultiNode)."}
	m["scheduler.get_publisher_event_socket"] = rpcMethod{min: 0, max: 0, sig: []string{"string"},
		help: "The ZMQ address the caller's realm's events are published on.", fn: func(c *rpcCall, _ rpcArgs) (any, error) {
			return s.eventSocket(c.r), nil
		}}
}

func jobNotFound(id any) error { return fault(404, "Job '%v' was not found.", id) }

// rpcJob reads argument i as a job id ("N", N or a MultiNode "N.M") and
// returns the job if the caller may see it; others are 404 as missing.
func (s *Server) rpcJob(c *rpcCall, a rpcArgs, i int) (*store.Job, error) {
	if i >= len(a) {
		return nil, fault(xmlrpc.CodeInvalidParams, "missing argument job_id")
	}
	raw := fmt.Sprint(a[i])
	if b, ok := a[i].([]byte); ok {
		raw = string(b)
	}
	head, sub, multi := strings.Cut(strings.TrimSpace(raw), ".")
	id, err := strconv.ParseInt(head, 10, 64)
	if err != nil || id <= 0 {
		return nil, jobNotFound(raw)
	}
	j, err := s.store.GetJob(c.r.Context(), realmOf(c.r), id, c.user)
	if errors.Is(err, store.ErrNotFound) {
		return nil, jobNotFound(raw)
	}
	if err != nil || !multi {
		return j, err
	}
	n, err := strconv.Atoi(sub)
	if err != nil || !j.IsMultinode() || n < 0 {
		return nil, jobNotFound(raw)
	}
	group, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user,
		store.JobFilter{TargetGroup: *j.TargetGroup, Ordering: "id"})
	if err != nil {
		return nil, err
	}
	if n >= len(group) || group[0].ID != id {
		return nil, jobNotFound(raw)
	}
	return group[n], nil
}

// displayID is LAVA's display_id: the id, or "N.M" for a MultiNode sub-job.
func displayID(j *store.Job) any {
	if j.IsMultinode() && j.SubID != "" {
		return j.SubID
	}
	return j.ID
}

// rpcSubmitDefinition parses and stores def as submitted by the caller.
func (s *Server) rpcSubmitDefinition(c *rpcCall, def string) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	if len(def) > jobdef.MaxDefinitionBytes {
		return nil, fault(400, "Problem with submitted job data: job definition is %d bytes, more than the %d allowed", len(def), jobdef.MaxDefinitionBytes)
	}
	job, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		return nil, fault(400, "Problem with submitted job data: %v", err)
	}
	if msg, err := s.submitSecretsProblem(c.r.Context(), realmOf(c.r), job); err != nil {
		return nil, err
	} else if msg != "" {
		return nil, fault(400, "Problem with submitted job data: %s", msg)
	}
	msg, err := s.submitDenied(c.r, c.user, job)
	if err != nil {
		return nil, err
	}
	if msg != "" {
		return nil, fault(400, "%s", msg)
	}
	ids, err := s.store.SubmitJob(c.r.Context(), realmOf(c.r), c.user, def, job)
	var se *store.SubmitError
	if errors.As(err, &se) {
		return nil, fault(400, "%s", se.Error())
	}
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(c.r.Context(), "job submitted", "job_id", ids[0], "jobs", len(ids), "submitter", c.user.Username, "api", "xmlrpc")
	if job.MultiNode == nil {
		return ids[0], nil
	}
	subs := make([]string, len(ids))
	for i := range ids {
		subs[i] = fmt.Sprintf("%d.%d", ids[0], i)
	}
	return subs, nil
}

func (s *Server) rpcSubmit(c *rpcCall, a rpcArgs) (any, error) {
	def, err := a.str(0, "definition")
	if err != nil {
		return nil, err
	}
	return s.rpcSubmitDefinition(c, def)
}

func (s *Server) rpcResubmit(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	def, err := s.fullDefinition(c, j, j.Definition)
	if err != nil {
		return nil, err
	}
	return s.rpcSubmitDefinition(c, def)
}

// fullDefinition is def, or the whole MultiNode submission of a sub-job.
func (s *Server) fullDefinition(c *rpcCall, j *store.Job, def string) (string, error) {
	if !j.IsMultinode() {
		return def, nil
	}
	extras, err := s.store.JobExtras(c.r.Context(), []int64{j.ID})
	if err != nil {
		return "", err
	}
	return extras[j.ID].MultinodeDefinition, nil
}

func (s *Server) rpcCancel(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	err = s.store.CancelJob(c.r.Context(), realmOf(c.r), j.ID, c.user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, jobNotFound(a[0])
	case errors.Is(err, store.ErrForbidden):
		return nil, fault(403, "Permission denied.")
	case err != nil:
		return nil, err
	}
	return true, nil
}

func (s *Server) rpcShowJob(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	visibility, err := s.jobVisibility(c, j)
	if err != nil {
		return nil, err
	}
	tags := j.Tags
	if tags == nil {
		tags = []string{}
	}
	return xmlrpc.S("id", displayID(j), "description", j.Description, "device", j.ActualDevice, "device_type", j.RequestedDeviceType, "health_check", j.HealthCheck, "pipeline", true, "health", j.Health, "state", j.State, "submitter", j.Submitter, "submit_time", j.SubmitTime.UTC(), "start_time", rpcTime(j.StartTime), "end_time", rpcTime(j.EndTime), "tags", tags, "visibility", visibility, "failure_comment", j.FailureComment), nil
}

// jobVisibility is LAVA's wording: Public, Personal or "Group (a, b)".
func (s *Server) jobVisibility(c *rpcCall, j *store.Job) (string, error) {
	switch j.Visibility {
	case "public":
		return "Public", nil
	case "personal":
		return "Personal", nil
	}
	names, err := s.store.JobViewingGroupNames(c.r.Context(), j.ID)
	if err != nil {
		return "", err
	}
	if len(names) == 0 {
		return "Personal", nil
	}
	return "Group (" + strings.Join(names, ", ") + ")", nil
}

func (s *Server) rpcJobDefinition(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	return s.fullDefinition(c, j, j.OriginalDefinition)
}

func (s *Server) rpcJobField(key string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.authenticated(); err != nil {
			return nil, err
		}
		j, err := s.rpcJob(c, a, 0)
		if err != nil {
			return nil, err
		}
		v := j.State
		if key == "job_health" {
			v = j.Health
		}
		out := xmlrpc.S("job_id", j.ID, key, v)
		if j.IsMultinode() {
			out = append(out, xmlrpc.Member{Name: "sub_id", Value: j.SubID})
		}
		return out, nil
	}
}

// choiceArg reads a state or health name as LAVA's str.capitalize() does.
func choiceArg(a rpcArgs, i int, what string, valid []string) ([]string, error) {
	v, err := a.optStr(i, what)
	if err != nil || v == nil || *v == "" {
		return nil, err
	}
	want := strings.ToUpper((*v)[:1]) + strings.ToLower((*v)[1:])
	for _, ok := range valid {
		if ok == want {
			return []string{ok}, nil
		}
	}
	return nil, fault(400, "Invalid %s '%s'", what, *v)
}

func pageArgs(a rpcArgs, i int) (start, limit int, err error) {
	st, err := a.optInt(i, "start", 0)
	if err != nil {
		return 0, 0, err
	}
	lim, err := a.optInt(i+1, "limit", 25)
	if err != nil {
		return 0, 0, err
	}
	return int(max(st, 0)), int(min(max(lim, 0), 100)), nil
}

// pyTimeStamp is Python's str() of an aware datetime with microseconds.
const pyTimeStamp = "2006-01-02 15:04:05.000000-07:00"

func pyTimeStr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(pyTimeStamp)
}

func (s *Server) rpcListJobs(c *rpcCall, a rpcArgs) (any, error) {
	states, err := choiceArg(a, 0, "state", jobStates)
	if err != nil {
		return nil, err
	}
	healths, err := choiceArg(a, 1, "health", jobHealths)
	if err != nil {
		return nil, err
	}
	start, limit, err := pageArgs(a, 2)
	if err != nil {
		return nil, err
	}
	since, err := a.optInt(4, "since", 0)
	if err != nil {
		return nil, err
	}
	verbose := a.boolean(5, false)
	f := store.JobFilter{States: states, Healths: healths, Offset: start, Limit: limit}
	if limit == 0 {
		return []any{}, nil
	}
	jobs, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user, f)
	if err != nil {
		return nil, err
	}
	out := []any{}
	cutoff := time.Now().Add(-time.Duration(since) * time.Minute)
	for _, j := range jobs {
		if since > 0 && (j.EndTime == nil || j.EndTime.Before(cutoff)) {
			continue
		}
		row := xmlrpc.S("id", displayID(j), "description", j.Description, "device_type", j.RequestedDeviceType, "health", j.Health, "state", j.State, "submitter", j.Submitter)
		if verbose {
			row = append(row, xmlrpc.S("actual_device", j.ActualDevice, "start_time", pyTimeStr(j.StartTime),
				"end_time", pyTimeStr(j.EndTime), "error_msg", j.FailureComment, "error_type", nilIfEmpty(j.FailureType))...)
		}
		out = append(out, row)
	}
	return out, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) rpcQueue(c *rpcCall, a rpcArgs) (any, error) {
	var types map[string]bool
	if a.has(0) {
		list, ok := a[0].([]any)
		if !ok {
			return nil, fault(xmlrpc.CodeInvalidParams, "argument device_types must be a list")
		}
		types = map[string]bool{}
		for _, t := range list {
			types[fmt.Sprint(t)] = true
		}
	}
	start, limit, err := pageArgs(a, 1)
	if err != nil {
		return nil, err
	}
	jobs, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user,
		store.JobFilter{States: []string{store.JobSubmitted}, Limit: queueScan})
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, j := range jobs {
		if types != nil && (j.RequestedDeviceType == nil || !types[*j.RequestedDeviceType]) {
			continue
		}
		out = append(out, xmlrpc.S("id", displayID(j), "description", j.Description, "requested_device_type", j.RequestedDeviceType, "submitter", j.Submitter))
	}
	if start >= len(out) {
		return []any{}, nil
	}
	return out[start:min(len(out), start+limit)], nil
}

// queueScan bounds the queued jobs one queue call reads.
const queueScan = 5000

// maxRPCLogBytes bounds one logs call; lavacli asks again from where it got.
const maxRPCLogBytes = 16 << 20

func (s *Server) rpcLogs(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	start, err := a.optInt(1, "start", 0)
	if err != nil {
		return nil, err
	}
	end, err := a.optInt(2, "end", -1)
	if err != nil {
		return nil, err
	}
	finished := j.State == store.JobFinished
	start = max(start, 0)
	if start >= j.LogLines || (end >= 0 && end <= start) {
		return []any{finished, []byte{}}, nil
	}
	var buf bytes.Buffer
	errFull := errors.New("full")
	err = s.store.StreamLog(c.r.Context(), j.ID, start, end, func(line []byte) error {
		if buf.Len() > 0 && buf.Len()+len(line) > maxRPCLogBytes {
			return errFull
		}
		buf.WriteString("- ")
		buf.Write(line)
		return buf.WriteByte('\n')
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, err
	}
	return []any{finished, buf.Bytes()}, nil
}

func (s *Server) rpcValidate(c *rpcCall, a rpcArgs) (any, error) {
	def, err := a.str(0, "definition")
	if err != nil {
		return nil, err
	}
	if len(def) > jobdef.MaxDefinitionBytes {
		return map[string]any{"path": "None", "msg": "job definition too large"}, nil
	}
	errs := jobdef.Validate([]byte(def), jobdef.Options{Strict: a.boolean(1, false)})
	if len(errs) == 0 {
		return map[string]any{}, nil
	}
	return xmlrpc.S("path", pyPath(errs[0].Path), "msg", errs[0].Message), nil
}

// pyPath renders "actions[2].boot" as voluptuous's str(path): ['actions', 2, 'boot'].
func pyPath(p string) string {
	if p == "" {
		return "[]"
	}
	var parts []string
	for _, seg := range strings.Split(strings.ReplaceAll(p, "[", ".["), ".") {
		switch {
		case seg == "":
		case strings.HasPrefix(seg, "[") && strings.HasSuffix(seg, "]"):
			parts = append(parts, strings.Trim(seg, "[]"))
		default:
			parts = append(parts, pyRepr(seg))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (s *Server) rpcJobConfig(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	if j.State != store.JobRunning && j.State != store.JobCanceling && j.State != store.JobFinished {
		return nil, fault(404, "Job '%v' has not started yet", a[0])
	}
	// Strings, not base64: lavacli writes them to text files as they come.
	out := []any{j.Definition, nil, nil, nil, nil}
	if j.Worker != nil {
		for i, kind := range []string{"dispatcher", "env", "env-dut"} {
			doc, err := s.store.WorkerDoc(c.r.Context(), realmOf(c.r), *j.Worker, kind)
			if err == nil && doc != "" {
				out[2+i] = doc
			}
		}
	}
	return out, nil
}

func (s *Server) rpcUserCanViewJobs(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	list, ok := a[0].([]any)
	if !ok {
		return nil, fault(400, "job list argument must be a list")
	}
	viewer := c.user
	if name, _ := a.optStr(1, "username"); name != nil && *name != "" {
		if !c.user.IsSuperuser {
			return nil, fault(401, "Permission denied for user '%s' to query other users", c.user.Username)
		}
		u, err := s.store.UserByName(c.r.Context(), *name)
		if err != nil {
			return nil, fault(404, "Username %s not found", *name)
		}
		viewer = u
	}
	out := map[string]any{}
	for _, id := range list {
		_, err := s.rpcJob(&rpcCall{r: c.r, user: viewer}, rpcArgs{id}, 0)
		var f *xmlrpc.Fault
		switch {
		case err == nil:
			out[fmt.Sprint(id)] = true
		case errors.As(err, &f) && f.Code == 404:
			// Unknown and hidden jobs are left out, alike.
		default:
			return nil, err
		}
	}
	return out, nil
}
