package api

import (
	"errors"
	"path/filepath"
	"strings"
	"time"

	"golava/server/store"
	"golava/server/xmlrpc"
)

// scheduler.workers.*, scheduler.tags.*, scheduler.aliases.* (LAVA's
// SchedulerWorkersAPI, SchedulerTagsAPI and SchedulerAliasesAPI).

func (s *Server) rpcWorkers(m map[string]rpcMethod) {
	m["scheduler.workers.list"] = rpcMethod{min: 0, max: 1, sig: []string{"array"}, fn: s.rpcListWorkers,
		help: "Hostnames of the workers."}
	m["scheduler.workers.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowWorker,
		help: "Details of a worker: hostname, description, state, health, devices, last_ping, job_limit, version, default_config, default_env, default_env_dut."}
	m["scheduler.workers.add"] = rpcMethod{min: 1, max: 3, fn: s.rpcAddWorker,
		help: "add(hostname, description=None, disabled=False)."}
	m["scheduler.workers.update"] = rpcMethod{min: 1, max: 4, fn: s.rpcUpdateWorker,
		help: "update(hostname, description=None, health=None, job_limit=None); health is ACTIVE, MAINTENANCE or RETIRED."}
	for kind, name := range map[string]string{"dispatcher": "config", "env": "env", "env-dut": "env_dut"} {
		m["scheduler.workers.get_"+name] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"}, fn: s.rpcGetWorkerDoc(kind),
			help: "The " + kind + " configuration of a worker (base64)."}
		m["scheduler.workers.set_"+name] = rpcMethod{min: 2, max: 2, sig: []string{"boolean", "string", "string"}, fn: s.rpcSetWorkerDoc(kind),
			help: "Store the " + kind + " configuration of a worker."}
	}
}

func workerNotFound(name string) error { return fault(404, "Worker '%s' was not found.", name) }

func (s *Server) rpcListWorkers(c *rpcCall, a rpcArgs) (any, error) {
	ws, _, err := s.store.ListWorkers(c.r.Context(), realmOf(c.r), store.ListQuery{})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ws))
	for _, w := range ws {
		if w.Health == store.WorkerRetired && !a.boolean(0, true) {
			continue
		}
		out = append(out, w.Hostname)
	}
	return out, nil
}

func (s *Server) rpcShowWorker(c *rpcCall, a rpcArgs) (any, error) {
	name, err := a.str(0, "hostname")
	if err != nil {
		return nil, err
	}
	w, err := s.store.WorkerByName(c.r.Context(), realmOf(c.r), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, workerNotFound(name)
	}
	if err != nil {
		return nil, err
	}
	devices, err := s.store.DevicesOfWorker(c.r.Context(), w.ID)
	if err != nil {
		return nil, err
	}
	if devices == nil {
		devices = []string{}
	}
	defaults := map[string]bool{}
	for _, kind := range []string{"dispatcher", "env", "env-dut"} {
		doc, err := s.store.WorkerDoc(c.r.Context(), realmOf(c.r), name, kind)
		if err != nil {
			return nil, err
		}
		defaults[kind] = doc == ""
	}
	return xmlrpc.S("hostname", w.Hostname, "description", w.Description, "state", w.State, "health", w.Health, "devices", devices, "last_ping", lastPing(w), "job_limit", w.JobLimit, "version", nilIfEmpty(w.Version), "default_config", defaults["dispatcher"], "default_env", defaults["env"], "default_env_dut", defaults["env-dut"]), nil
}

func (s *Server) rpcAddWorker(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.add_worker"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "hostname")
	if err != nil {
		return nil, err
	}
	desc := ""
	if d, _ := a.optStr(1, "description"); d != nil {
		desc = *d
	}
	if _, _, err := s.store.CreateWorker(c.r.Context(), realmOf(c.r), name, desc); err != nil {
		return nil, fault(400, "Bad request: worker already exists?")
	}
	if a.boolean(2, false) {
		if _, err := s.store.SetWorkerHealth(c.r.Context(), realmOf(c.r), name, store.WorkerRetired); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (s *Server) rpcUpdateWorker(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.change_worker"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "hostname")
	if err != nil {
		return nil, err
	}
	var u store.WorkerUpdate
	if u.Description, err = a.optStr(1, "description"); err != nil {
		return nil, err
	}
	h, err := a.optStr(2, "health")
	if err != nil {
		return nil, err
	}
	if h != nil {
		v := strings.ToUpper((*h)[:min(1, len(*h))]) + strings.ToLower((*h)[min(1, len(*h)):])
		if *h != strings.ToUpper(*h) || (v != store.WorkerActive && v != store.WorkerMaintenance && v != store.WorkerRetired) {
			return nil, fault(400, "Invalid health: %s", *h)
		}
		u.Health = &v
	}
	if a.has(3) {
		n, ok := a[3].(int64)
		if !ok || n < 0 {
			return nil, fault(400, "Invalid job limit")
		}
		limit := int(n)
		u.JobLimit = &limit
	}
	err = s.store.UpdateWorker(c.r.Context(), realmOf(c.r), name, u)
	if errors.Is(err, store.ErrNotFound) {
		return nil, workerNotFound(name)
	}
	return nil, err
}

func validWorkerArg(a rpcArgs) (string, error) {
	name, err := a.str(0, "hostname")
	if err != nil {
		return "", err
	}
	if name == "" || filepath.Base(name) != name || name == "." || name == ".." {
		return "", fault(400, "Invalid worker name")
	}
	return name, nil
}

var workerDocMissing = map[string]string{
	"dispatcher": "does not have a dispatcher configuration", "env": "does not have an env file", "env-dut": "does not have an env-dut file",
}

func (s *Server) rpcGetWorkerDoc(kind string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		name, err := validWorkerArg(a)
		if err != nil {
			return nil, err
		}
		doc, err := s.store.WorkerDoc(c.r.Context(), realmOf(c.r), name, kind)
		if errors.Is(err, store.ErrNotFound) {
			return nil, workerNotFound(name)
		}
		if err != nil {
			return nil, err
		}
		if doc, err = s.workerFile(name, kind, doc); err != nil {
			return nil, fault(400, "Unable to read %s: %v", kind, err)
		}
		if doc == "" {
			return nil, fault(404, "Worker '%s' %s", name, workerDocMissing[kind])
		}
		return []byte(doc), nil
	}
}

func (s *Server) rpcSetWorkerDoc(kind string) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.superuser("lava_scheduler_app.change_worker"); err != nil {
			return nil, err
		}
		name, err := validWorkerArg(a)
		if err != nil {
			return nil, err
		}
		doc, err := a.str(1, "config")
		if err != nil {
			return nil, err
		}
		err = s.store.SetWorkerDoc(c.r.Context(), realmOf(c.r), name, kind, doc)
		if errors.Is(err, store.ErrNotFound) {
			return nil, workerNotFound(name)
		}
		return err == nil, err
	}
}

func (s *Server) rpcTagsAliases(m map[string]rpcMethod) {
	m["scheduler.tags.list"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcListTags,
		help: "Tags: [{name, description}] by name."}
	m["scheduler.tags.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowTag,
		help: "A tag with the visible devices carrying it."}
	m["scheduler.tags.add"] = rpcMethod{min: 1, max: 2, fn: s.rpcAddTag, help: "add(name, description=None)."}
	m["scheduler.tags.delete"] = rpcMethod{min: 1, max: 1, fn: s.rpcDeleteTag, help: "delete(name)."}
	m["scheduler.aliases.list"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcListAliases,
		help: "Alias names."}
	m["scheduler.aliases.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcShowAlias,
		help: "An alias: {name, device_type} (device_type empty when hidden)."}
	m["scheduler.aliases.add"] = rpcMethod{min: 2, max: 2, fn: s.rpcAddAlias, help: "add(name, device_type_name)."}
	m["scheduler.aliases.delete"] = rpcMethod{min: 1, max: 1, fn: s.rpcDeleteAlias, help: "delete(name)."}
}

func (s *Server) rpcListTags(c *rpcCall, _ rpcArgs) (any, error) {
	tags, err := s.store.ListTags(c.r.Context(), realmOf(c.r))
	if err != nil {
		return nil, err
	}
	out := make([]any, len(tags))
	for i, t := range tags {
		out[i] = xmlrpc.S("name", t.Name, "description", nilIfEmpty(t.Description))
	}
	return out, nil
}

func (s *Server) rpcShowTag(c *rpcCall, a rpcArgs) (any, error) {
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	t, err := s.store.TagByName(c.r.Context(), realmOf(c.r), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Tag '%s' was not found.", name)
	}
	if err != nil {
		return nil, err
	}
	devices := []string{}
	for _, h := range t.Devices {
		if _, err := s.rpcDevice(c, rpcArgs{h}); err == nil {
			devices = append(devices, h)
		}
	}
	return xmlrpc.S("name", t.Name, "description", nilIfEmpty(t.Description), "devices", devices), nil
}

func (s *Server) rpcAddTag(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.add_tag"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	desc := ""
	if d, _ := a.optStr(1, "description"); d != nil {
		desc = *d
	}
	if err := s.store.CreateTag(c.r.Context(), realmOf(c.r), name, desc); err != nil {
		return nil, fault(400, "Bad request: tag already exists?")
	}
	return nil, nil
}

func (s *Server) rpcDeleteTag(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.delete_tag"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteTag(c.r.Context(), realmOf(c.r), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Tag '%s' was not found.", name)
	}
	return nil, err
}

func (s *Server) rpcListAliases(c *rpcCall, _ rpcArgs) (any, error) {
	as, err := s.store.ListAliases(c.r.Context(), realmOf(c.r))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(as))
	for i := range as {
		out[i] = as[i].Name
	}
	return out, nil
}

func (s *Server) rpcShowAlias(c *rpcCall, a rpcArgs) (any, error) {
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	al, err := s.store.AliasByName(c.r.Context(), realmOf(c.r), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Alias '%s' was not found.", name)
	}
	if err != nil {
		return nil, err
	}
	if s.hiddenDeviceType(c.r, al.DeviceTypeID) != nil {
		return xmlrpc.S("name", al.Name, "device_type", ""), nil
	}
	return xmlrpc.S("name", al.Name, "device_type", al.DeviceType), nil
}

func (s *Server) rpcAddAlias(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.add_alias"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	dtName, err := a.str(1, "device_type_name")
	if err != nil {
		return nil, err
	}
	err = s.store.CreateAlias(c.r.Context(), realmOf(c.r), name, dtName)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, fault(400, "Bad request. DeviceType does not exist")
	case errors.Is(err, store.ErrConflict):
		return nil, fault(400, "Bad request. Alias or DeviceType name already exists.")
	case err != nil:
		return nil, fault(404, "%v", err)
	}
	return nil, nil
}

func (s *Server) rpcDeleteAlias(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("lava_scheduler_app.delete_alias"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteAlias(c.r.Context(), realmOf(c.r), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Alias '%s' was not found.", name)
	}
	return nil, err
}

// lastPing is never nil, as in LAVA (a new worker's is its creation): a
// worker that never pinged shows the Unix epoch.
func lastPing(w *store.Worker) time.Time {
	if w.LastPing == nil {
		return time.Unix(0, 0).UTC()
	}
	return w.LastPing.UTC()
}
