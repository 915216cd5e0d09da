package api

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"golava/pkg/jobdef"
	"golava/server/store"
	"golava/server/xmlrpc"
)

// The older scheduler.* calls of LAVA's SchedulerAPI that scripts still use
// (device status, maintenance, device dictionaries, recent jobs).

func (s *Server) rpcLegacy(m map[string]rpcMethod) {
	m["scheduler.validate_yaml"] = rpcMethod{min: 1, max: 1, fn: s.rpcValidateYAML,
		help: "Check a job definition as a submission would; a fault 400 when invalid."}
	m["scheduler.all_devices"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcAllDevices,
		help: "[[hostname, device_type, status, current job, true]] of the visible, not retired devices."}
	m["scheduler.all_device_types"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcAllDeviceTypes,
		help: "[{name, busy, idle, offline}] of the visible device types."}
	m["scheduler.get_device_type_by_alias"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcTypeByAlias,
		help: "{alias: [device types whose alias contains it]}."}
	m["scheduler.get_device_status"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcDeviceStatus,
		help: "{hostname, status, job, offline_since, offline_by, is_pipeline} of a device."}
	m["scheduler.put_into_maintenance_mode"] = rpcMethod{min: 2, max: 3, fn: s.rpcDeviceMode("Maintenance"),
		help: "put_into_maintenance_mode(hostname, reason, notify=None)."}
	m["scheduler.put_into_online_mode"] = rpcMethod{min: 2, max: 3, fn: s.rpcDeviceMode("Unknown"),
		help: "put_into_online_mode(hostname, reason, skip_health_check=False): health Unknown (a health check follows)."}
	m["scheduler.pending_jobs_by_device_type"] = rpcMethod{min: 0, max: 1, sig: []string{"struct", "boolean"}, fn: s.rpcPending,
		help: "{device_type: number of Submitted jobs} for the visible device types."}
	m["scheduler.all_jobs"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcAllJobs,
		help: "[[id, description, status, device, device_type, sub_id]] of the visible jobs not finished."}
	m["scheduler.get_recent_jobs_for_device"] = rpcMethod{min: 1, max: 3, sig: []string{"array", "string", "int", "boolean"}, fn: s.rpcRecent(false),
		help: "get_recent_jobs_for_device(device, count=1, restrict_to_user=False): finished jobs, newest first."}
	m["scheduler.get_recent_jobs_for_device_type"] = rpcMethod{min: 1, max: 3, sig: []string{"array", "string", "int", "boolean"}, fn: s.rpcRecent(true),
		help: "get_recent_jobs_for_device_type(device_type, count=1, restrict_to_user=False): finished jobs, newest first."}
	m["scheduler.get_device_config"] = rpcMethod{min: 1, max: 2, sig: []string{"string", "string", "string"}, fn: s.rpcDeviceConfig,
		help: "get_device_config(hostname, context=None): the rendered device configuration (base64)."}
	m["scheduler.import_device_dictionary"] = rpcMethod{min: 2, max: 2, sig: []string{"string", "string", "string"}, fn: s.rpcImportDict,
		help: "import_device_dictionary(hostname, jinja_str): store a device dictionary."}
	m["scheduler.export_device_dictionary"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"}, fn: s.rpcExportDict,
		help: "export_device_dictionary(hostname): the device dictionary (base64)."}
}

// deviceStatus is LAVA's build_device_status_display.
func deviceStatus(d *store.Device) string {
	switch d.State {
	case store.DeviceIdle:
		switch d.Health {
		case store.DeviceGood, store.DeviceUnknown:
			return "idle"
		case store.DeviceRetired:
			return "retired"
		}
		return "offline"
	case store.DeviceReserved:
		return "reserved"
	}
	return "running"
}

// legacyStatus is TestJob.get_legacy_status_display.
func legacyStatus(j *store.Job) string {
	switch {
	case j.State == store.JobSubmitted || j.State == store.JobScheduling || j.State == store.JobScheduled:
		return "Submitted"
	case j.State == store.JobRunning:
		return "Running"
	case j.State == store.JobCanceling:
		return "Canceling"
	case j.Health == store.JobHealthComplete:
		return "Complete"
	case j.Health == store.JobHealthUnknown || j.Health == store.JobHealthIncomplete:
		return "Incomplete"
	}
	return "Canceled"
}

func (s *Server) rpcValidateYAML(_ *rpcCall, a rpcArgs) (any, error) {
	def, err := a.str(0, "yaml_string")
	if err != nil {
		return nil, err
	}
	if _, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true}); err != nil {
		return nil, fault(400, "Invalid YAML submission: %v", err)
	}
	return nil, nil
}

func (s *Server) visibleDevices(c *rpcCall, withRetired bool) ([]store.Device, error) {
	ds, _, err := s.store.ListDevices(c.r.Context(), realmOf(c.r), store.ListQuery{Restrict: true, Viewer: c.user}, withRetired)
	return ds, err
}

func (s *Server) rpcAllDevices(c *rpcCall, _ rpcArgs) (any, error) {
	ds, err := s.visibleDevices(c, false)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ds))
	for i := range ds {
		out[i] = []any{ds[i].Hostname, ds[i].DeviceType, deviceStatus(&ds[i]), ds[i].CurrentJob, true}
	}
	return out, nil
}

func (s *Server) rpcAllDeviceTypes(c *rpcCall, _ rpcArgs) (any, error) {
	ds, err := s.visibleDevices(c, false)
	if err != nil {
		return nil, err
	}
	counts := map[string][3]int{}
	var order []string
	for i := range ds {
		d := &ds[i]
		n, seen := counts[d.DeviceType]
		if !seen {
			order = append(order, d.DeviceType)
		}
		switch st := deviceStatus(d); st {
		case "idle":
			n[1]++
		case "reserved", "running":
			n[0]++
		default:
			n[2]++
		}
		counts[d.DeviceType] = n
	}
	out := make([]any, len(order))
	for i, name := range order {
		n := counts[name]
		out[i] = xmlrpc.S("name", name, "busy", n[0], "idle", n[1], "offline", n[2])
	}
	return out, nil
}

func (s *Server) rpcTypeByAlias(c *rpcCall, a rpcArgs) (any, error) {
	alias, err := a.str(0, "alias")
	if err != nil {
		return nil, err
	}
	all, err := s.store.ListAliases(c.r.Context(), realmOf(c.r))
	if err != nil {
		return nil, err
	}
	types := []string{}
	for _, al := range all {
		if strings.Contains(al.Name, alias) && s.hiddenDeviceType(c.r, al.DeviceTypeID) == nil {
			types = append(types, al.DeviceType)
		}
	}
	return map[string]any{alias: types}, nil
}

func (s *Server) rpcDeviceStatus(c *rpcCall, a rpcArgs) (any, error) {
	if !a.has(0) || a[0] == "" {
		return nil, fault(400, "Bad request: Hostname was not specified.")
	}
	d, err := s.rpcDevice(c, a)
	if err != nil {
		return nil, err
	}
	return xmlrpc.S("hostname", d.Hostname, "status", deviceStatus(d), "job", d.CurrentJob,
		"offline_since", nil, "offline_by", nil, "is_pipeline", true), nil
}

func (s *Server) rpcDeviceMode(health string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.authenticated(); err != nil {
			return nil, err
		}
		if reason, _ := a.str(1, "reason"); reason == "" {
			return nil, fault(400, "Bad request: Reason was not specified.")
		}
		d, err := s.rpcChangeDevice(c, a)
		if err != nil {
			return nil, err
		}
		_, err = s.store.SetDeviceHealth(c.r.Context(), realmOf(c.r), d.Hostname, health)
		return nil, err
	}
}

func (s *Server) rpcPending(c *rpcCall, a rpcArgs) (any, error) {
	jobs, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user,
		store.JobFilter{States: []string{store.JobSubmitted}, Limit: queueScan})
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	dts, _, err := s.store.ListDeviceTypes(c.r.Context(), realmOf(c.r), store.ListQuery{Restrict: true, Viewer: c.user})
	if err != nil {
		return nil, err
	}
	for _, dt := range dts {
		if a.boolean(0, false) || dt.Devices > 0 {
			out[dt.Name] = 0
		}
	}
	for _, j := range jobs {
		if j.RequestedDeviceType != nil {
			n, _ := out[*j.RequestedDeviceType].(int)
			out[*j.RequestedDeviceType] = n + 1
		}
	}
	return out, nil
}

func (s *Server) rpcAllJobs(c *rpcCall, _ rpcArgs) (any, error) {
	jobs, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user,
		store.JobFilter{States: []string{store.JobSubmitted, store.JobScheduling, store.JobScheduled, store.JobRunning, store.JobCanceling}, Limit: queueScan})
	if err != nil {
		return nil, err
	}
	out := make([]any, len(jobs))
	for i, j := range jobs {
		out[i] = []any{j.ID, j.Description, strings.ToLower(legacyStatus(j)), j.ActualDevice, j.RequestedDeviceType, j.SubID}
	}
	return out, nil
}

func (s *Server) rpcRecent(byType bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		name, err := a.str(0, "device")
		if err != nil || name == "" {
			return nil, fault(400, "Bad request: device was not specified.")
		}
		count, err := a.optInt(1, "count", 1)
		if err != nil {
			return nil, err
		}
		if count < 0 {
			return nil, fault(400, "Bad request: count must not be negative.")
		}
		f := store.JobFilter{States: []string{store.JobFinished}, Limit: int(min(count, 1000))}
		if byType {
			if _, err := s.rpcDeviceType(c, a); err != nil {
				return nil, fault(404, "DeviceType '%s' was not found.", name)
			}
			f.DeviceType = name
		} else {
			if _, err := s.rpcDevice(c, a); err != nil {
				return nil, err
			}
			f.ActualDevice = name
		}
		if a.boolean(2, false) && c.user != nil {
			f.Submitter = c.user.Username
		}
		out := []any{}
		if count == 0 {
			return out, nil
		}
		jobs, _, err := s.store.ListJobs(c.r.Context(), realmOf(c.r), c.user, f)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			row := xmlrpc.S("id", j.ID, "description", j.Description, "status", legacyStatus(j))
			if byType {
				row = append(row, xmlrpc.S("device", derefOr(j.ActualDevice, ""))...)
			}
			out = append(out, row)
		}
		return out, nil
	}
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

func (s *Server) rpcDeviceConfig(c *rpcCall, a rpcArgs) (any, error) {
	if !a.has(0) || a[0] == "" {
		return nil, fault(400, "Bad request: Device hostname was not specified.")
	}
	var jobCtx map[string]any
	if ctxDoc, _ := a.optStr(1, "context"); ctxDoc != nil {
		if err := yaml.Unmarshal([]byte(*ctxDoc), &jobCtx); err != nil {
			return nil, fault(400, "Job context '%s' is not valid. %v", *ctxDoc, err)
		}
	}
	d, err := s.rpcDevice(c, a)
	var f *xmlrpc.Fault
	if errors.As(err, &f) && f.Code == 404 {
		return nil, fault(404, "Specified device was not found.")
	}
	if err != nil {
		return nil, err
	}
	wj := &store.WorkerJob{DeviceDictionary: d.Dictionary, DeviceType: d.DeviceType}
	if tmpl, _, err := s.store.DeviceTypeDocs(c.r.Context(), realmOf(c.r), d.DeviceType); err == nil {
		wj.DeviceTypeTemplate = tmpl
	}
	out, err := s.renderDevice(wj, jobCtx)
	if err != nil {
		return nil, fault(400, "Device '%s' configuration cannot be rendered: %v", d.Hostname, err)
	}
	return []byte(out), nil
}

func (s *Server) rpcImportDict(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcChangeDevice(c, a)
	if err != nil {
		return nil, err
	}
	dict, err := a.str(1, "jinja_str")
	if err != nil {
		return nil, err
	}
	if err := s.store.SetDeviceDictionary(c.r.Context(), realmOf(c.r), d.Hostname, dict); err != nil {
		return nil, err
	}
	return fmt.Sprintf("Device dictionary updated for %s", d.Hostname), nil
}

func (s *Server) rpcExportDict(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcChangeDevice(c, a)
	if err != nil {
		return nil, err
	}
	if d.Dictionary == "" {
		return nil, fault(404, "Device '%s' does not have a device dictionary", d.Hostname)
	}
	return []byte(d.Dictionary), nil
}
