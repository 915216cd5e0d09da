package api

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"go.yaml.in/yaml/v3"

	"golava/pkg/devconf"
	"golava/server/store"

	"golava/server/xmlrpc"
)

// scheduler.job_details, scheduler.job_output and
// results.get_testjob_metadata.

func (s *Server) rpcDetails(m map[string]rpcMethod) {
	m["scheduler.job_details"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcJobDetails,
		help: "The fields of a job, with status (legacy), state, health, submitter_username, absolute_url and is_pipeline."}
	m["scheduler.job_output"] = rpcMethod{min: 1, max: 2, sig: []string{"string", "string", "int"}, fn: s.rpcJobOutput,
		help: "job_output(job_id, offset=0): the YAML log from byte offset (base64)."}
	m["results.get_testjob_metadata"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcJobMetadata,
		help: "The metadata of a job definition as a list of {name: value}."}
	m["scheduler.validate_pipeline_devices"] = rpcMethod{min: 0, max: 1, sig: []string{"string", "string"}, fn: s.rpcValidateDevices,
		help: "validate_pipeline_devices(name=None): YAML {hostname: {Valid: null} or {Invalid: why}} for the visible devices of a type, one device, or all."}
}

func (s *Server) rpcJobDetails(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	return xmlrpc.S("id", j.ID, "sub_id", j.SubID, "target_group", j.TargetGroup, "submitter_id", j.SubmitterID,
		"description", j.Description, "health_check", j.HealthCheck, "requested_device_type_id", j.RequestedDeviceType,
		"actual_device_id", j.ActualDevice, "submit_time", j.SubmitTime.UTC(), "start_time", rpcTime(j.StartTime),
		"end_time", rpcTime(j.EndTime), "priority", j.Priority, "definition", j.Definition,
		"original_definition", j.OriginalDefinition, "is_public", j.Visibility == "public",
		"failure_comment", j.FailureComment, "status", legacyStatus(j), "state", j.State, "health", j.Health,
		"submitter_username", j.Submitter, "absolute_url", fmt.Sprintf("/scheduler/job/%d", j.ID), "is_pipeline", true), nil
}

func (s *Server) rpcJobOutput(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcJob(c, a, 0)
	if err != nil {
		return nil, err
	}
	offset, err := a.optInt(1, "offset", 0)
	if err != nil {
		return nil, err
	}
	if j.LogLines == 0 {
		return nil, fault(404, "Job output not found.")
	}
	var buf bytes.Buffer
	pos := int64(0)
	errFull := errors.New("full")
	err = s.store.StreamLog(c.r.Context(), j.ID, 0, -1, func(line []byte) error {
		rec := append(append([]byte("- "), line...), '\n')
		if skip := offset - pos; skip > 0 {
			pos += int64(len(rec))
			if skip >= int64(len(rec)) {
				return nil
			}
			rec = rec[skip:]
		} else {
			pos += int64(len(rec))
		}
		if buf.Len()+len(rec) > maxRPCLogBytes {
			return errFull
		}
		buf.Write(rec)
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *Server) rpcJobMetadata(c *rpcCall, a rpcArgs) (any, error) {
	j, err := s.rpcResultJob(c, a)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Metadata map[string]any `yaml:"metadata"`
	}
	_ = yaml.Unmarshal([]byte(j.Definition), &doc) // stored definitions parsed at submission
	keys := make([]string, 0, len(doc.Metadata))
	for k := range doc.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []any{}
	for _, k := range keys {
		out = append(out, map[string]any{k: fmt.Sprint(doc.Metadata[k])})
	}
	return out, nil
}

func (s *Server) rpcValidateDevices(c *rpcCall, a rpcArgs) (any, error) {
	ds, err := s.visibleDevices(c, false)
	if err != nil {
		return nil, err
	}
	name, _ := a.optStr(0, "name")
	var pick []store.Device
	for _, d := range ds {
		if name == nil || *name == "" || d.DeviceType == *name {
			pick = append(pick, d)
		}
	}
	if len(pick) == 0 && name != nil && *name != "" {
		for _, d := range ds {
			if d.Hostname == *name {
				pick = append(pick, d)
			}
		}
	}
	switch {
	case len(pick) == 0 && name != nil && *name != "":
		return nil, fault(404, "No devices found with hostname or device type name %s, visible by the user", *name)
	case len(pick) == 0:
		return nil, fault(404, "No pipeline devices visible by user were found on this instance.")
	}
	results := map[string]any{}
	for _, d := range pick {
		if d.Dictionary == "" {
			results[d.Hostname] = map[string]any{"Invalid": "Missing device dictionary"}
			continue
		}
		wj := &store.WorkerJob{DeviceDictionary: d.Dictionary, DeviceType: d.DeviceType}
		if tmpl, _, err := s.store.DeviceTypeDocs(c.r.Context(), realmOf(c.r), d.DeviceType); err == nil {
			wj.DeviceTypeTemplate = tmpl
		}
		out, err := s.renderDevice(wj, nil)
		if err == nil {
			_, err = devconf.Parse([]byte(out))
		}
		if err != nil {
			results[d.Hostname] = map[string]any{"Invalid": err.Error()}
			continue
		}
		results[d.Hostname] = map[string]any{"Valid": nil}
	}
	out, err := yaml.Marshal(results)
	return out, err
}
