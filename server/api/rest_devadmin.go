package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"golava/server/store"
)

// Device and worker administration over REST v0.2, as LAVA 2023.01's
// DeviceViewSet (set_health, dictionary, PUT/PATCH) and WorkerViewSet (env,
// config, PUT/PATCH) do, plus golava's availability view per device type.
// Maintenance, retire and re-activate are health changes; forcing a health
// check is setting the health to Unknown, as in LAVA.

func (s *Server) restDevAdmin(r chi.Router) {
	r.Post("/devices/{hostname}/set_health/", s.setDeviceHealth)
	r.Get("/devices/{hostname}/dictionary/", s.getDeviceDictionary)
	r.Post("/devices/{hostname}/dictionary/", s.setDeviceDictionary)
	r.Put("/devices/{hostname}/", s.updateDevice)
	r.Patch("/devices/{hostname}/", s.updateDevice)
	r.Post("/workers/", s.restCreateWorker)
	r.Put("/workers/{hostname}/", s.updateWorker)
	r.Patch("/workers/{hostname}/", s.updateWorker)
	for route, kind := range map[string]string{"env": "env", "config": "dispatcher", "env_dut": "env-dut"} {
		r.Get("/workers/{hostname}/"+route+"/", s.getWorkerDoc(kind))
		r.Post("/workers/{hostname}/"+route+"/", s.setWorkerDoc(route, kind))
	}
	r.Get("/devicetypes/{name}/availability/", s.typeAvailability)
	r.Get("/availability/", s.typeAvailability)
	r.Get("/fair-share/", s.listFairShare)
	r.Post("/fair-share/", s.setFairShare)
	s.restPeriodic(r)
}

// listFairShare is GET fair-share/: the weighted groups with their running
// and queued jobs (golava's fair share between groups).
func (s *Server) listFairShare(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.ListFairShare(r.Context(), realmOf(r))
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	if list == nil {
		list = []store.FairShare{}
	}
	writeJSON(w, http.StatusOK, list)
}

// setFairShare is POST fair-share/ {group, weight}: superusers only;
// weight 0 removes the group from fair share.
func (s *Server) setFairShare(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	weight, err := strconv.ParseFloat(fields["weight"], 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"weight": {"A number is required."}})
		return
	}
	if err := s.store.SetFairShare(r.Context(), realmOf(r), fields["group"], weight); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"group": {fmt.Sprintf("Group %q does not exist.", fields["group"])}})
			return
		}
		s.storeFailure(w, r, err)
		return
	}
	restMessage(w, http.StatusOK, "fair share updated")
}

// canonicalDeviceHealth maps LAVA's spellings (GOOD, good, Good) to golava's.
func canonicalDeviceHealth(h string) (string, bool) {
	for _, v := range store.DeviceHealths {
		if strings.EqualFold(v, h) {
			return v, true
		}
	}
	return "", false
}

func canonicalWorkerHealth(h string) (string, bool) {
	for _, v := range []string{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired} {
		if strings.EqualFold(v, h) {
			return v, true
		}
	}
	return "", false
}

// changeableDevice loads the device and checks the caller may change it:
// 404 when it cannot see it, 403 when it cannot change it.
func (s *Server) changeableDevice(w http.ResponseWriter, r *http.Request) (*store.Device, *store.User, bool) {
	user, ok := requireUser(w, r)
	if !ok {
		return nil, nil, false
	}
	d, err := s.store.DeviceByName(r.Context(), realmOf(r), chi.URLParam(r, "hostname"))
	if err == nil {
		err = s.hiddenDevice(r, d)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return nil, nil, false
	}
	can, err := s.store.CanChangeDevice(r.Context(), d, user)
	if err != nil {
		s.storeFailure(w, r, err)
		return nil, nil, false
	}
	if !can {
		restError(w, http.StatusForbidden, "Insufficient permissions. Please contact system administrator.")
		return nil, nil, false
	}
	return d, user, true
}

// setDeviceHealth is POST devices/<hostname>/set_health/ {health, reason}.
func (s *Server) setDeviceHealth(w http.ResponseWriter, r *http.Request) {
	d, user, ok := s.changeableDevice(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	health, valid := canonicalDeviceHealth(fields["health"])
	if !valid {
		restMessage(w, http.StatusBadRequest, fmt.Sprintf("Invalid health %q: one of %s", fields["health"], strings.Join(store.DeviceHealths, ", ")))
		return
	}
	if _, err := s.store.SetDeviceHealth(r.Context(), realmOf(r), d.Hostname, health); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	s.logger.InfoContext(r.Context(), "device health set", "device", d.Hostname, "health", health,
		"by", user.Username, "reason", fields["reason"])
	restMessage(w, http.StatusAccepted, "OK")
}

// getDeviceDictionary is GET devices/<hostname>/dictionary/[?render=1]: the
// Jinja2 dictionary, or with render the device configuration it makes.
func (s *Server) getDeviceDictionary(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.DeviceByName(r.Context(), realmOf(r), chi.URLParam(r, "hostname"))
	if err == nil {
		err = s.hiddenDevice(r, d)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	if d.Dictionary == "" {
		restError(w, http.StatusBadRequest, fmt.Sprintf("Device '%s' does not have a configuration", d.Hostname))
		return
	}
	body, ctype, name := d.Dictionary, "text/plain", d.Hostname+".jinja2"
	if r.URL.Query().Get("render") != "" {
		out, err := s.renderDictionary(r, d)
		if err != nil {
			restError(w, http.StatusBadRequest, fmt.Sprintf("Device '%s' does not have a valid configuration: %v", d.Hostname, err))
			return
		}
		body, ctype, name = out, "application/yaml", d.Hostname+".yaml"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
	_, _ = w.Write([]byte(body))
}

func (s *Server) renderDictionary(r *http.Request, d *store.Device) (string, error) {
	tmpl, _, err := s.store.DeviceTypeDocs(r.Context(), realmOf(r), d.DeviceType)
	if err != nil {
		return "", err
	}
	return s.renderDevice(&store.WorkerJob{DeviceDictionary: d.Dictionary, DeviceType: d.DeviceType, DeviceTypeTemplate: tmpl}, nil)
}

// setDeviceDictionary is POST devices/<hostname>/dictionary/ {dictionary}.
// The dictionary must render to a valid device configuration: a device the
// scheduler could not render for would only fail its jobs later.
func (s *Server) setDeviceDictionary(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.changeableDevice(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	dict := fields["dictionary"]
	if strings.TrimSpace(dict) == "" {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"dictionary": {"This field is required."}})
		return
	}
	d.Dictionary = dict
	if _, err := s.renderDictionary(r, d); err != nil {
		restError(w, http.StatusBadRequest, fmt.Sprintf("Error updating configuration for device '%s': %v", d.Hostname, err))
		return
	}
	if err := s.store.SetDeviceDictionary(r.Context(), realmOf(r), d.Hostname, dict); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	restMessage(w, http.StatusOK, "device config successfully updated")
}

// updateDevice is PUT/PATCH devices/<hostname>/ with any of health,
// worker_host, description, device_type.
func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request) {
	d, _, ok := s.changeableDevice(w, r)
	if !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	var u store.DeviceUpdate
	if v, ok := fields["health"]; ok {
		h, valid := canonicalDeviceHealth(v)
		if !valid {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"health": {fmt.Sprintf("%q is not a valid choice.", v)}})
			return
		}
		u.Health = &h
	}
	if v, ok := fields["worker_host"]; ok {
		u.Worker = &v
	}
	if v, ok := fields["description"]; ok {
		u.Description = &v
	}
	if v, ok := fields["device_type"]; ok {
		u.DeviceType = &v
	}
	if err := s.store.UpdateDevice(r.Context(), realmOf(r), d.Hostname, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			restMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeFailure(w, r, err)
		return
	}
	// Answered directly: getDevice hides a device just Retired.
	d, err := s.store.DeviceByName(r.Context(), realmOf(r), d.Hostname)
	var tagIDs map[string]int64
	if err == nil {
		tagIDs, err = s.deviceTagIDs(r, *d)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestDevice(d, tagIDs))
}

// restCreateWorker is POST workers/ {hostname, description}: superusers only;
// the answer carries the worker's token, shown this once.
func (s *Server) restCreateWorker(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	name := fields["hostname"]
	if err := store.ValidHostname("worker", name); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"hostname": {err.Error()}})
		return
	}
	wk, token, err := s.store.CreateWorker(r.Context(), realmOf(r), name, fields["description"])
	if errors.Is(err, store.ErrConflict) {
		writeJSON(w, http.StatusBadRequest, map[string][]string{"hostname": {"worker with this hostname already exists."}})
		return
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		restWorker
		Token string `json:"token"`
	}{toRestWorker(wk), token})
}

// updateWorker is PUT/PATCH workers/<hostname>/ with any of health
// (Active, Maintenance, Retired), description, job_limit.
func (s *Server) updateWorker(w http.ResponseWriter, r *http.Request) {
	if _, ok := requireSuperuser(w, r); !ok {
		return
	}
	fields, ok := requestFields(w, r)
	if !ok {
		return
	}
	var u store.WorkerUpdate
	if v, ok := fields["health"]; ok {
		h, valid := canonicalWorkerHealth(v)
		if !valid {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"health": {fmt.Sprintf("%q is not a valid choice.", v)}})
			return
		}
		u.Health = &h
	}
	if v, ok := fields["description"]; ok {
		u.Description = &v
	}
	if v, ok := fields["job_limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"job_limit": {"A valid non-negative integer is required."}})
			return
		}
		u.JobLimit = &n
	}
	if err := s.store.UpdateWorker(r.Context(), realmOf(r), chi.URLParam(r, "hostname"), u); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	s.getWorker(w, r)
}

// getWorkerDoc is GET workers/<hostname>/env|config|env_dut/.
func (s *Server) getWorkerDoc(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "hostname")
		doc, err := s.store.WorkerDoc(r.Context(), realmOf(r), name, kind)
		if err != nil {
			s.storeFailure(w, r, err)
			return
		}
		if doc == "" {
			restError(w, http.StatusBadRequest, fmt.Sprintf("Worker '%s' does not have '%s' file", name, kind))
			return
		}
		file := map[string]string{"env": "env.yaml", "dispatcher": "dispatcher.yaml", "env-dut": "env-dut.yaml"}[kind]
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("Content-Disposition", "attachment; filename="+file)
		_, _ = w.Write([]byte(doc))
	}
}

// setWorkerDoc is POST workers/<hostname>/env|config|env_dut/ with the
// document in the field of the same name, as LAVA's serializers. It must be
// a YAML mapping: the worker hands it to lava-run as is.
func (s *Server) setWorkerDoc(field, kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := requireSuperuser(w, r); !ok {
			return
		}
		fields, ok := requestFields(w, r)
		if !ok {
			return
		}
		doc, ok := fields[field]
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string][]string{field: {"This field is required."}})
			return
		}
		if err := checkYAMLMapping(doc); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string][]string{field: {err.Error()}})
			return
		}
		if err := s.store.SetWorkerDoc(r.Context(), realmOf(r), chi.URLParam(r, "hostname"), kind, doc); err != nil {
			s.storeFailure(w, r, err)
			return
		}
		restMessage(w, http.StatusOK, "content successfully updated")
	}
}

// typeAvailability is GET devicetypes/<name>/availability/ (one object) and
// GET availability/ (a list over every type): idle, busy, offline, queued
// and the age of the oldest queued job, for orchestrators that poll.
func (s *Server) typeAvailability(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if name != "" {
		dt, err := s.store.DeviceTypeByName(r.Context(), realmOf(r), name)
		if err == nil {
			err = s.hiddenDeviceType(r, dt.ID)
		}
		if err != nil {
			s.storeFailure(w, r, err)
			return
		}
	}
	as, err := s.store.DeviceTypeAvailability(r.Context(), realmOf(r), name)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if name != "" {
		writeJSON(w, http.StatusOK, as[0])
		return
	}
	if as == nil {
		as = []store.Availability{}
	}
	writeJSON(w, http.StatusOK, as)
}

// checkYAMLMapping accepts "" (no document) or a YAML mapping.
func checkYAMLMapping(doc string) error {
	if strings.TrimSpace(doc) == "" {
		return nil
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		return fmt.Errorf("not a YAML mapping: %w", err)
	}
	return nil
}
