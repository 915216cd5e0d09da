package api

import (
	"errors"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"golava/pkg/devconf"
	"golava/server/store"
	"golava/server/xmlrpc"
)

// scheduler.devices.*, scheduler.device_types.* (LAVA's
// SchedulerDevicesAPI, SchedulerDevicesTagsAPI, SchedulerDeviceTypesAPI and
// SchedulerDeviceTypesAliasesAPI). A device or device type the caller may
// not see answers 404 like a missing one.

func (s *Server) rpcDevices(m map[string]rpcMethod) {
	m["scheduler.devices.list"] = rpcMethod{min: 0, max: 2, sig: []string{"array", "boolean", "boolean"}, fn: s.rpcListDevices,
		help: "list(show_all=False, offline_info=False): visible devices by hostname (Retired only with show_all)."}
	m["scheduler.devices.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowDevice,
		help: "Details of a device: hostname, device_type, health, state, health_job, description, pipeline, has_device_dict, worker, current_job, tags."}
	m["scheduler.devices.add"] = rpcMethod{min: 3, max: 8, fn: s.rpcAddDevice,
		help: "add(hostname, type_name, worker_hostname, user_name=None, group_name=None, public=True, health=None, description=None)."}
	m["scheduler.devices.update"] = rpcMethod{min: 1, max: 8, fn: s.rpcUpdateDevice,
		help: "update(hostname, worker_hostname=None, user_name=None, group_name=None, public=True, health=None, description=None, device_type=None)."}
	m["scheduler.devices.get_dictionary"] = rpcMethod{min: 1, max: 3, sig: []string{"string", "string", "boolean", "string"}, fn: s.rpcGetDictionary,
		help: "get_dictionary(hostname, render=False, context=None): the device dictionary, or rendered configuration (base64)."}
	m["scheduler.devices.set_dictionary"] = rpcMethod{min: 2, max: 2, sig: []string{"boolean", "string", "string"}, fn: s.rpcSetDictionary,
		help: "set_dictionary(hostname, dictionary): store the device dictionary."}
	m["scheduler.devices.tags.list"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcDeviceTags,
		help: "Tags of a device."}
	m["scheduler.devices.tags.add"] = rpcMethod{min: 2, max: 2, fn: s.rpcDeviceTagEdit(true), help: "add(hostname, name): tag a device."}
	m["scheduler.devices.tags.delete"] = rpcMethod{min: 2, max: 2, fn: s.rpcDeviceTagEdit(false), help: "delete(hostname, name): untag a device."}
}

func deviceNotFound(name string) error { return fault(404, "Device '%s' was not found.", name) }

// rpcDevice returns the named device if the caller may see it.
func (s *Server) rpcDevice(c *rpcCall, a rpcArgs) (*store.Device, error) {
	name, err := a.str(0, "hostname")
	if err != nil {
		return nil, err
	}
	d, err := s.store.DeviceByName(c.r.Context(), realmOf(c.r), name)
	if err == nil {
		err = s.hiddenDevice(c.r, d)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, deviceNotFound(name)
	}
	return d, err
}

// rpcChangeDevice returns the device if the caller may administer it.
func (s *Server) rpcChangeDevice(c *rpcCall, a rpcArgs) (*store.Device, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	d, err := s.rpcDevice(c, a)
	if err != nil {
		return nil, err
	}
	ok, err := s.store.CanChangeDevice(c.r.Context(), d, c.user)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault(403, "User '%s' needs admin permission on device %s.", c.user.Username, d.Hostname)
	}
	return d, nil
}

func (s *Server) rpcListDevices(c *rpcCall, a rpcArgs) (any, error) {
	ds, _, err := s.store.ListDevices(c.r.Context(), realmOf(c.r),
		store.ListQuery{Restrict: true, Viewer: c.user}, a.boolean(0, false))
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = xmlrpc.S("hostname", d.Hostname, "type", d.DeviceType, "health", d.Health, "state", d.State, "current_job", d.CurrentJob, "pipeline", true)
	}
	return out, nil
}

func (s *Server) rpcShowDevice(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcDevice(c, a)
	if err != nil {
		return nil, err
	}
	tags := d.Tags
	if tags == nil {
		tags = []string{}
	}
	return xmlrpc.S("hostname", d.Hostname, "device_type", d.DeviceType, "health", d.Health, "state", d.State, "health_job", d.LastHealthReportJob != nil, "description", d.Description, "pipeline", true, "has_device_dict", d.Dictionary != "", "worker", d.Worker, "current_job", d.CurrentJob, "tags", tags), nil
}

// deviceHealthArg maps LAVA's upper-case health names to golava's.
func deviceHealthArg(v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	for _, h := range store.DeviceHealths {
		if strings.ToUpper(h) == *v {
			return &h, nil
		}
	}
	return nil, fault(400, "Health '%s' is invalid", *v)
}

func (s *Server) rpcAddDevice(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.change_device"); err != nil {
		return nil, err
	}
	var n store.NewDevice
	var err error
	if n.Hostname, err = a.str(0, "hostname"); err != nil {
		return nil, err
	}
	if n.DeviceType, err = a.str(1, "type_name"); err != nil {
		return nil, err
	}
	if n.Worker, err = a.str(2, "worker_hostname"); err != nil {
		return nil, err
	}
	n.Private = !a.boolean(5, true)
	hs, err := a.optStr(6, "health")
	if err != nil {
		return nil, err
	}
	h, err := deviceHealthArg(hs)
	if err != nil {
		return nil, fault(400, "Invalid health")
	}
	if h != nil {
		n.Health = *h
	}
	if d, _ := a.optStr(7, "description"); d != nil {
		n.Description = *d
	}
	_, err = s.store.CreateDevice(c.r.Context(), realmOf(c.r), n)
	switch {
	case errors.Is(err, store.ErrNotFound) && strings.Contains(err.Error(), "device type"):
		return nil, fault(404, "DeviceType '%s' was not found.", n.DeviceType)
	case errors.Is(err, store.ErrNotFound):
		return nil, fault(404, "Worker '%s' was not found.", n.Worker)
	case err != nil:
		return nil, fault(400, "Bad request: device already exists?")
	}
	return nil, nil
}

func (s *Server) rpcUpdateDevice(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcChangeDevice(c, a)
	if err != nil {
		return nil, err
	}
	var u store.DeviceUpdate
	if u.Worker, err = a.optStr(1, "worker_hostname"); err != nil {
		return nil, err
	}
	hs, err := a.optStr(5, "health")
	if err != nil {
		return nil, err
	}
	if u.Health, err = deviceHealthArg(hs); err != nil {
		return nil, err
	}
	if u.Description, err = a.optStr(6, "description"); err != nil {
		return nil, err
	}
	if u.DeviceType, err = a.optStr(7, "device_type"); err != nil {
		return nil, err
	}
	err = s.store.UpdateDevice(c.r.Context(), realmOf(c.r), d.Hostname, u)
	switch {
	case errors.Is(err, store.ErrNotFound) && u.Worker != nil && strings.Contains(err.Error(), "worker"):
		return nil, fault(404, "Unable to find worker '%s'", *u.Worker)
	case errors.Is(err, store.ErrNotFound) && u.DeviceType != nil:
		return nil, fault(404, "Unable to find device-type '%s'", *u.DeviceType)
	case err != nil:
		return nil, err
	}
	return nil, nil
}

func (s *Server) rpcGetDictionary(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcDevice(c, a)
	if err != nil {
		return nil, err
	}
	if d.Dictionary == "" {
		return nil, fault(404, "Device '%s' does not have a configuration", d.Hostname)
	}
	if !a.boolean(1, false) {
		return []byte(d.Dictionary), nil
	}
	var jobCtx map[string]any
	if ctxDoc, _ := a.optStr(2, "context"); ctxDoc != nil && *ctxDoc != "" {
		if err := yaml.Unmarshal([]byte(*ctxDoc), &jobCtx); err != nil {
			return nil, fault(400, "Job Context '%s' is not valid: %v", *ctxDoc, err)
		}
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

func (s *Server) rpcSetDictionary(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcChangeDevice(c, a)
	if err != nil {
		return nil, err
	}
	dict, err := a.str(1, "dictionary")
	if err != nil {
		return nil, err
	}
	if err := s.store.SetDeviceDictionary(c.r.Context(), realmOf(c.r), d.Hostname, dict); err != nil {
		return nil, err
	}
	return true, nil
}

func (s *Server) rpcDeviceTags(c *rpcCall, a rpcArgs) (any, error) {
	d, err := s.rpcDevice(c, a)
	if err != nil {
		return nil, err
	}
	if d.Tags == nil {
		return []string{}, nil
	}
	return d.Tags, nil
}

func (s *Server) rpcDeviceTagEdit(add bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.superuser("lava_scheduler_app.add_tag"); err != nil && add {
			return nil, err
		}
		d, err := s.rpcChangeDevice(c, a)
		if err != nil {
			return nil, err
		}
		tag, err := a.str(1, "name")
		if err != nil {
			return nil, err
		}
		if add {
			err = s.store.AddDeviceTag(c.r.Context(), realmOf(c.r), d.Hostname, tag)
		} else {
			err = s.store.RemoveDeviceTag(c.r.Context(), realmOf(c.r), d.Hostname, tag)
		}
		if !add && errors.Is(err, store.ErrNotFound) {
			return nil, fault(404, "Tag '%s' was not found.", tag)
		}
		if err != nil {
			return nil, fault(400, "Bad request: %v", err)
		}
		return nil, nil
	}
}

func (s *Server) rpcDeviceTypes(m map[string]rpcMethod) {
	m["scheduler.device_types.list"] = rpcMethod{min: 0, max: 1, sig: []string{"array", "boolean"}, fn: s.rpcListDeviceTypes,
		help: "list(show_all=False): visible device types with their device counts; show_all adds templates not installed."}
	m["scheduler.device_types.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowDeviceType,
		help: "Details of a device type: name, description, display, health_disabled, health_denominator, health_frequency, aliases, devices, default_template."}
	m["scheduler.device_types.add"] = rpcMethod{min: 6, max: 6, fn: s.rpcAddDeviceType,
		help: "add(name, description, display, owners_only, health_frequency, health_denominator)."}
	m["scheduler.device_types.update"] = rpcMethod{min: 7, max: 7, fn: s.rpcUpdateDeviceType,
		help: "update(name, description, display, owners_only, health_frequency, health_denominator, health_disabled); None keeps a field."}
	m["scheduler.device_types.get_template"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"}, fn: s.rpcGetDTDoc("template"),
		help: "The Jinja2 template of a device type (base64)."}
	m["scheduler.device_types.set_template"] = rpcMethod{min: 2, max: 2, fn: s.rpcSetDTDoc("template"),
		help: "set_template(name, config): store the template of a device type."}
	m["scheduler.device_types.get_health_check"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"}, fn: s.rpcGetDTDoc("health_check"),
		help: "The health-check definition of a device type (base64)."}
	m["scheduler.device_types.set_health_check"] = rpcMethod{min: 2, max: 2, fn: s.rpcSetDTDoc("health_check"),
		help: "set_health_check(name, config): store the health check of a device type."}
	m["scheduler.device_types.aliases.list"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcDTAliases,
		help: "Aliases of a device type."}
	m["scheduler.device_types.aliases.add"] = rpcMethod{min: 2, max: 2, fn: s.rpcDTAliasEdit(true), help: "add(name, alias)."}
	m["scheduler.device_types.aliases.delete"] = rpcMethod{min: 2, max: 2, fn: s.rpcDTAliasEdit(false), help: "delete(name, alias)."}
}

func dtNotFound(name string) error { return fault(404, "Device-type '%s' was not found.", name) }

func (s *Server) rpcDeviceType(c *rpcCall, a rpcArgs) (*store.DeviceTypeInfo, error) {
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	dt, err := s.store.DeviceTypeByName(c.r.Context(), realmOf(c.r), name)
	if err == nil {
		err = s.hiddenDeviceType(c.r, dt.ID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, dtNotFound(name)
	}
	return dt, err
}

func (s *Server) rpcChangeDeviceType(c *rpcCall, a rpcArgs) (*store.DeviceTypeInfo, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	dt, err := s.rpcDeviceType(c, a)
	if err != nil {
		return nil, err
	}
	ok, err := s.store.CanChangeDeviceType(c.r.Context(), dt.ID, c.user)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault(403, "No 'admin' permissions for device-type '%s'.", dt.Name)
	}
	return dt, nil
}

// templateNames lists the *.jinja2 device-type templates of the
// configured folder (not base*), as LAVA's _available_device_types.
func (s *Server) templateNames() map[string]bool {
	out := map[string]bool{}
	if s.cfg.DeviceTypesDir == "" {
		return out
	}
	files, _ := filepath.Glob(filepath.Join(s.cfg.DeviceTypesDir, "*.jinja2"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".jinja2")
		if !strings.HasPrefix(name, "base") {
			out[name] = true
		}
	}
	return out
}

func (s *Server) rpcListDeviceTypes(c *rpcCall, a rpcArgs) (any, error) {
	dts, _, err := s.store.ListDeviceTypes(c.r.Context(), realmOf(c.r), store.ListQuery{Restrict: true, Viewer: c.user})
	if err != nil {
		return nil, err
	}
	templates := s.templateNames()
	out := []any{}
	installed := map[string]bool{}
	for _, dt := range dts {
		installed[dt.Name] = true
		out = append(out, xmlrpc.S("name", dt.Name, "devices", dt.Devices+dt.Retired, "installed", true, "template", templates[dt.Name] || s.hasTemplate(dt.Name)))
	}
	if a.boolean(0, false) {
		for _, name := range sortedKeys(templates) {
			if !installed[name] {
				out = append(out, xmlrpc.S("name", name, "devices", 0, "installed", false, "template", true))
			}
		}
	}
	return out, nil
}

// templateFile reads name.jinja2 from golava's own templates, then the
// configured folder (the renderer's search order).
func (s *Server) templateFile(name string) ([]byte, bool) {
	for _, dir := range append([]fs.FS{devconf.Embedded()}, s.templateDirs()...) {
		if data, err := fs.ReadFile(dir, name+".jinja2"); err == nil {
			return data, true
		}
	}
	return nil, false
}

func (s *Server) hasTemplate(name string) bool {
	_, ok := s.templateFile(name)
	return ok
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Server) rpcShowDeviceType(c *rpcCall, a rpcArgs) (any, error) {
	dt, err := s.rpcDeviceType(c, a)
	if err != nil {
		return nil, err
	}
	ds, _, err := s.store.ListDevices(c.r.Context(), realmOf(c.r), store.ListQuery{Restrict: true, Viewer: c.user,
		Filters: []store.Filter{{Field: "device_type", Op: "exact", Values: []string{dt.Name}}}}, true)
	if err != nil {
		return nil, err
	}
	devices := make([]string, len(ds))
	for i := range ds {
		devices[i] = ds[i].Hostname
	}
	aliases := dt.Aliases
	if aliases == nil {
		aliases = []string{}
	}
	tmpl, _, err := s.store.DeviceTypeDocs(c.r.Context(), realmOf(c.r), dt.Name)
	if err != nil {
		return nil, err
	}
	denominator := "Hours"
	if dt.HealthDenominator == "jobs" {
		denominator = "Jobs"
	}
	return xmlrpc.S("name", dt.Name, "description", dt.Description, "display", dt.Display, "health_disabled", dt.DisableHealthCheck, "health_denominator", denominator, "health_frequency", dt.HealthFrequency, "aliases", aliases, "devices", devices, "default_template", tmpl == nil), nil
}

func (s *Server) rpcAddDeviceType(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.change_devicetype"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	den, _ := a.optStr(5, "health_denominator")
	if den == nil || (*den != "hours" && *den != "jobs") {
		return nil, fault(400, "Bad request: invalid health_denominator.")
	}
	freq, err := a.optInt(4, "health_frequency", 24)
	if err != nil {
		return nil, err
	}
	n := store.NewDeviceType{Name: name, HealthFrequency: int(freq), HealthDenominator: *den, Hidden: !a.boolean(2, true)}
	if d, _ := a.optStr(1, "description"); d != nil {
		n.Description = *d
	}
	if _, err := s.store.CreateDeviceType(c.r.Context(), realmOf(c.r), n); err != nil {
		return nil, fault(400, "Bad request: device-type name is already used.")
	}
	return nil, nil
}

func (s *Server) rpcUpdateDeviceType(c *rpcCall, a rpcArgs) (any, error) {
	dt, err := s.rpcChangeDeviceType(c, a)
	if err != nil {
		return nil, err
	}
	var u store.DeviceTypeUpdate
	if u.Description, err = a.optStr(1, "description"); err != nil {
		return nil, err
	}
	u.Display = a.optBool(2)
	if a.has(4) {
		f, err := a.integer(4, "health_frequency")
		if err != nil {
			return nil, err
		}
		fi := int(f)
		u.HealthFrequency = &fi
	}
	if u.HealthDenominator, err = a.optStr(5, "health_denominator"); err != nil {
		return nil, err
	}
	if u.HealthDenominator != nil && *u.HealthDenominator != "hours" && *u.HealthDenominator != "jobs" {
		return nil, fault(400, "Bad request: invalid health_denominator.")
	}
	u.DisableHealthCheck = a.optBool(6)
	return nil, s.store.UpdateDeviceType(c.r.Context(), realmOf(c.r), dt.Name, u)
}

// rpcGetDTDoc answers get_template/get_health_check: the stored document,
// else the file of the templates folder or golava's own template.
func (s *Server) rpcGetDTDoc(kind string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		name, err := a.str(0, "name")
		if err != nil {
			return nil, err
		}
		if filepath.Base(name) != name || name == "" || name[0] == '.' {
			return nil, fault(400, "Invalid device-type '%s'", name)
		}
		dt, err := s.store.DeviceTypeByName(c.r.Context(), realmOf(c.r), name)
		if err == nil && s.hiddenDeviceType(c.r, dt.ID) != nil {
			return nil, dtNotFound(name)
		}
		tmpl, hc, _ := s.store.DeviceTypeDocs(c.r.Context(), realmOf(c.r), name)
		if kind == "template" {
			if tmpl != nil {
				return []byte(*tmpl), nil
			}
			if data, ok := s.templateFile(name); ok {
				return data, nil
			}
		} else if hc != nil {
			return []byte(*hc), nil
		}
		return nil, dtNotFound(name)
	}
}

func (s *Server) rpcSetDTDoc(kind string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.superuser("lava_scheduler_app.change_devicetype"); err != nil {
			return nil, err
		}
		name, err := a.str(0, "name")
		if err != nil {
			return nil, err
		}
		doc, err := a.str(1, "config")
		if err != nil {
			return nil, err
		}
		err = s.store.SetDeviceTypeDoc(c.r.Context(), realmOf(c.r), name, kind, doc)
		if errors.Is(err, store.ErrNotFound) {
			return nil, dtNotFound(name)
		}
		return nil, err
	}
}

func (s *Server) rpcDTAliases(c *rpcCall, a rpcArgs) (any, error) {
	dt, err := s.rpcDeviceType(c, a)
	if err != nil {
		return nil, err
	}
	if dt.Aliases == nil {
		return []string{}, nil
	}
	return dt.Aliases, nil
}

func (s *Server) rpcDTAliasEdit(add bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.superuser("lava_scheduler_app.add_alias"); err != nil {
			return nil, err
		}
		dt, err := s.rpcChangeDeviceType(c, a)
		if err != nil {
			return nil, err
		}
		alias, err := a.str(1, "alias")
		if err != nil {
			return nil, err
		}
		if add {
			if err := s.store.CreateAlias(c.r.Context(), realmOf(c.r), alias, dt.Name); err != nil {
				return nil, fault(400, "Bad request: %v", err)
			}
			return nil, nil
		}
		al, err := s.store.AliasByName(c.r.Context(), realmOf(c.r), alias)
		if err != nil || al.DeviceType != dt.Name {
			return nil, fault(404, "Alias '%s' was not found.", alias)
		}
		return nil, s.store.DeleteAlias(c.r.Context(), realmOf(c.r), alias)
	}
}
