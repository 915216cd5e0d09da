package web

import (
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

func (s *Server) deviceRoutes(r chi.Router) {
	r.Get("/scheduler/alldevices", s.deviceList)
	r.Get("/scheduler/device/{name}", s.devicePage)
	r.Post("/scheduler/device/{name}/health", s.deviceHealth)
	r.Get("/scheduler/device/{name}/dictionary", s.dictionaryForm)
	r.Post("/scheduler/device/{name}/dictionary", s.saveDictionary)
	r.Get("/scheduler/device_types", s.deviceTypeList)
	r.Get("/scheduler/device_type/{name}", s.deviceTypePage)
	r.Get("/scheduler/allworkers", s.workerList)
	r.Get("/scheduler/worker/{name}", s.workerPage)
	r.Post("/scheduler/worker/{name}/health", s.workerHealth)
}

func (s *Server) deviceList(w http.ResponseWriter, r *http.Request) {
	devs, _, err := s.st.ListDevices(r.Context(), s.realm(r), store.ListQuery{Order: []string{"hostname"}, Restrict: true, Viewer: currentUser(r)}, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "devices.html", "Devices", devs)
}

type devicePage struct {
	Device       *store.Device
	Jobs         []jobRow
	HealthChecks []jobRow
	IsAdmin      bool
	Actions      []healthAction
}

// healthAction is an admin button: the health it sets and its label.
type healthAction struct{ Health, Label string }

var deviceActions = []healthAction{
	{store.DeviceMaintenance, "Put into maintenance"},
	{store.DeviceUnknown, "Run a health check"},
	{store.DeviceGood, "Activate (Good)"},
	{store.DeviceRetired, "Retire"},
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	d, ok := s.visibleDevice(w, r)
	if !ok {
		return
	}
	canChange, err := s.st.CanChangeDevice(r.Context(), d, currentUser(r))
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	p := devicePage{Device: d, IsAdmin: canChange, Actions: deviceActions}
	if p.Jobs, err = s.jobsWhere(r, "j.actual_device_id = ?", d.ID, 20); err != nil {
		s.serverError(w, r, err)
		return
	}
	if p.HealthChecks, err = s.jobsWhere(r, "j.health_check AND j.actual_device_id = ?", d.ID, 10); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "device.html", "Device "+d.Hostname, p)
}

// jobsWhere lists the newest visible jobs matching cond (one "?" for v).
func (s *Server) jobsWhere(r *http.Request, cond string, v any, limit int) ([]jobRow, error) {
	args := []any{s.realm(r)}
	arg := func(x any) string { args = append(args, x); return "$" + itoa(len(args)) }
	c := replaceFirst(cond, "?", arg(v))
	q := jobRowSelect + " WHERE j.realm_id = $1 AND " + c + " AND " + visibleCond(currentUser(r), arg) +
		" ORDER BY j.id DESC LIMIT " + itoa(limit)
	return s.scanJobRows(r.Context(), q, args...)
}

func replaceFirst(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}

// deviceHealth asks for confirmation first (a page with a confirm button),
// then sets the health.
func (s *Server) deviceHealth(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.changeableDevice(w, r); !ok {
		return
	}
	name, health := chi.URLParam(r, "name"), r.PostFormValue("health")
	var label string
	for _, a := range deviceActions {
		if a.Health == health {
			label = a.Label
		}
	}
	if label == "" {
		s.badRequest(w, r, fmt.Sprintf("health %q is not an admin action", health))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.render(w, r, "confirm.html", "Confirm", confirmPage{
			Question: fmt.Sprintf("%s: device %s?", label, name), Action: "/scheduler/device/" + name + "/health",
			Button: label, Back: "/scheduler/device/" + name, Fields: map[string]string{"health": health},
		})
		return
	}
	if _, err := s.st.SetDeviceHealth(r.Context(), s.realm(r), name, health); err != nil {
		s.storeError(w, r, "device", err)
		return
	}
	http.Redirect(w, r, "/scheduler/device/"+name, http.StatusSeeOther)
}

type dictionaryPage struct {
	Device *store.Device
}

func (s *Server) dictionaryForm(w http.ResponseWriter, r *http.Request) {
	d, ok := s.changeableDevice(w, r)
	if !ok {
		return
	}
	s.render(w, r, "dictionary.html", "Dictionary of "+d.Hostname, dictionaryPage{Device: d})
}

const maxDictionary = 1 << 20

func (s *Server) saveDictionary(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.changeableDevice(w, r); !ok {
		return
	}
	name, dict := chi.URLParam(r, "name"), r.PostFormValue("dictionary")
	if len(dict) > maxDictionary {
		s.badRequest(w, r, fmt.Sprintf("the dictionary is %d bytes, more than the %d allowed", len(dict), maxDictionary))
		return
	}
	if err := s.st.SetDeviceDictionary(r.Context(), s.realm(r), name, dict); err != nil {
		s.storeError(w, r, "device", err)
		return
	}
	http.Redirect(w, r, "/scheduler/device/"+name, http.StatusSeeOther)
}

func (s *Server) deviceTypeList(w http.ResponseWriter, r *http.Request) {
	types, _, err := s.st.ListDeviceTypes(r.Context(), s.realm(r), store.ListQuery{Order: []string{"name"}, Restrict: true, Viewer: currentUser(r)})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "device_types.html", "Device types", types)
}

type deviceTypePage struct {
	Type         *store.DeviceTypeInfo
	Devices      []store.Device
	Jobs         []jobRow
	HealthChecks []jobRow
}

func (s *Server) deviceTypePage(w http.ResponseWriter, r *http.Request) {
	dt, err := s.st.DeviceTypeByName(r.Context(), s.realm(r), chi.URLParam(r, "name"))
	if err != nil {
		s.storeError(w, r, "device type", err)
		return
	}
	if ok, err := s.st.CanViewDeviceType(r.Context(), dt.ID, currentUser(r)); err != nil || !ok {
		s.storeError(w, r, "device type", orNotFound(err))
		return
	}
	p := deviceTypePage{Type: dt}
	p.Devices, _, err = s.st.ListDevices(r.Context(), s.realm(r), store.ListQuery{
		Filters: []store.Filter{{Field: "device_type", Op: "exact", Values: []string{dt.Name}}},
		Order:   []string{"hostname"}, Restrict: true, Viewer: currentUser(r)}, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if p.Jobs, err = s.jobsWhere(r, "j.requested_device_type_id = ?", dt.ID, 20); err != nil {
		s.serverError(w, r, err)
		return
	}
	if p.HealthChecks, err = s.jobsWhere(r, "j.health_check AND j.requested_device_type_id = ?", dt.ID, 10); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "device_type.html", "Device type "+dt.Name, p)
}

func (s *Server) workerList(w http.ResponseWriter, r *http.Request) {
	ws, _, err := s.st.ListWorkers(r.Context(), s.realm(r), store.ListQuery{Order: []string{"hostname"}})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "workers.html", "Workers", ws)
}

type workerPage struct {
	Worker  *store.Worker
	Devices []store.Device
	IsAdmin bool
	Actions []healthAction
}

var workerActions = []healthAction{
	{store.WorkerMaintenance, "Put into maintenance"},
	{store.WorkerActive, "Activate"},
	{store.WorkerRetired, "Retire"},
}

func (s *Server) workerPage(w http.ResponseWriter, r *http.Request) {
	wk, err := s.st.WorkerByName(r.Context(), s.realm(r), chi.URLParam(r, "name"))
	if err != nil {
		s.storeError(w, r, "worker", err)
		return
	}
	u := currentUser(r)
	p := workerPage{Worker: wk, IsAdmin: u != nil && u.IsSuperuser, Actions: workerActions}
	p.Devices, _, err = s.st.ListDevices(r.Context(), s.realm(r), store.ListQuery{
		Filters: []store.Filter{{Field: "worker_host", Op: "exact", Values: []string{wk.Hostname}}},
		Order:   []string{"hostname"}, Restrict: true, Viewer: currentUser(r)}, true)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "worker.html", "Worker "+wk.Hostname, p)
}

func (s *Server) workerHealth(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); !ok {
		return
	}
	name, health := chi.URLParam(r, "name"), r.PostFormValue("health")
	var label string
	for _, a := range workerActions {
		if a.Health == health {
			label = a.Label
		}
	}
	if label == "" {
		s.badRequest(w, r, fmt.Sprintf("health %q is not an admin action", health))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.render(w, r, "confirm.html", "Confirm", confirmPage{
			Question: fmt.Sprintf("%s: worker %s?", label, name), Action: "/scheduler/worker/" + name + "/health",
			Button: label, Back: "/scheduler/worker/" + name, Fields: map[string]string{"health": health},
		})
		return
	}
	if _, err := s.st.SetWorkerHealth(r.Context(), s.realm(r), name, health); err != nil {
		s.storeError(w, r, "worker", err)
		return
	}
	http.Redirect(w, r, "/scheduler/worker/"+name, http.StatusSeeOther)
}

func orNotFound(err error) error {
	if err == nil {
		return store.ErrNotFound
	}
	return err
}

// visibleDevice loads the {name} device, 404 when the viewer may not see it.
func (s *Server) visibleDevice(w http.ResponseWriter, r *http.Request) (*store.Device, bool) {
	d, err := s.st.DeviceByName(r.Context(), s.realm(r), chi.URLParam(r, "name"))
	if err == nil {
		var ok bool
		if ok, err = s.st.CanViewDevice(r.Context(), d, currentUser(r)); err == nil && !ok {
			err = store.ErrNotFound
		}
	}
	if err != nil {
		s.storeError(w, r, "device", err)
		return nil, false
	}
	return d, true
}

// changeableDevice is visibleDevice for a user with the change permission
// (superusers, or a group granted "change" on the device or its type).
func (s *Server) changeableDevice(w http.ResponseWriter, r *http.Request) (*store.Device, bool) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return nil, false
	}
	d, ok := s.visibleDevice(w, r)
	if !ok {
		return nil, false
	}
	can, err := s.st.CanChangeDevice(r.Context(), d, u)
	if err != nil {
		s.serverError(w, r, err)
		return nil, false
	}
	if !can {
		s.renderStatus(w, r, http.StatusForbidden, "error.html", "Forbidden", errorPage{Message: "You may not change this device."})
		return nil, false
	}
	return d, true
}
