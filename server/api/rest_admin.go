package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// REST v0.2 read views of devices, device types and workers, in the JSON
// shapes of LAVA 2023.01's serializers (lava_rest_app/v02). Anonymous reads
// are allowed, as DjangoModelPermissionsOrAnonReadOnly does.

func (s *Server) restAdmin(r chi.Router) {
	r.Get("/devices/", s.listDevices)
	r.Get("/devices/{hostname}/", s.getDevice)
	r.Get("/devicetypes/", s.listDeviceTypes)
	r.Get("/devicetypes/{name}/", s.getDeviceType)
	r.Get("/workers/", s.listWorkers)
	r.Get("/workers/{hostname}/", s.getWorker)
}

// restDevice is DeviceSerializer's field order. Tags are tag ids, as DRF
// shows a many-to-many relation by primary key.
type restDevice struct {
	Hostname            string  `json:"hostname"`
	DeviceType          string  `json:"device_type"`
	DeviceVersion       *string `json:"device_version"`
	PhysicalOwner       *int64  `json:"physical_owner"`
	PhysicalGroup       *int64  `json:"physical_group"`
	Description         *string `json:"description"`
	Tags                []int64 `json:"tags"`
	State               string  `json:"state"`
	Health              string  `json:"health"`
	LastHealthReportJob *int64  `json:"last_health_report_job"`
	WorkerHost          *string `json:"worker_host"`
	IsSynced            bool    `json:"is_synced"`
}

// restDeviceType is DeviceTypeSerializer's field order; golava has no
// architecture/processor/bits/cores metadata, so those are empty.
type restDeviceType struct {
	Name               string   `json:"name"`
	Architecture       *string  `json:"architecture"`
	Processor          *string  `json:"processor"`
	CPUModel           *string  `json:"cpu_model"`
	Aliases            []string `json:"aliases"`
	Bits               *int     `json:"bits"`
	Cores              []string `json:"cores"`
	CoreCount          *int     `json:"core_count"`
	Description        *string  `json:"description"`
	HealthFrequency    int      `json:"health_frequency"`
	DisableHealthCheck bool     `json:"disable_health_check"`
	HealthDenominator  string   `json:"health_denominator"`
	Display            bool     `json:"display"`
}

// restWorker is WorkerSerializer's field order. LAVA adds "token" for
// superusers; golava keeps only a hash of worker tokens, so it never can.
type restWorker struct {
	Hostname    string  `json:"hostname"`
	Health      string  `json:"health"`
	State       string  `json:"state"`
	Description *string `json:"description"`
	LastPing    *string `json:"last_ping"`
	JobLimit    int     `json:"job_limit"`
	Version     *string `json:"version"`
}

// nullable maps "" to JSON null, as LAVA's nullable text columns read.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// restTime formats like DRF's DateTimeField: ISO 8601 in UTC with "Z",
// microseconds only when not zero (Python's isoformat).
func restTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	u := t.UTC()
	layout := "2006-01-02T15:04:05.000000Z"
	if u.Nanosecond()/1000 == 0 {
		layout = "2006-01-02T15:04:05Z"
	}
	s := u.Format(layout)
	return &s
}

func toRestWorker(w *store.Worker) restWorker {
	return restWorker{Hostname: w.Hostname, Health: w.Health, State: w.State,
		Description: nullable(w.Description), LastPing: restTime(w.LastPing),
		JobLimit: w.JobLimit, Version: nullable(w.Version)}
}

func toRestDeviceType(dt *store.DeviceTypeInfo) restDeviceType {
	aliases := dt.Aliases
	if aliases == nil {
		aliases = []string{}
	}
	return restDeviceType{Name: dt.Name, Aliases: aliases, Cores: []string{},
		Description: nullable(dt.Description), HealthFrequency: dt.HealthFrequency,
		DisableHealthCheck: dt.DisableHealthCheck, HealthDenominator: dt.HealthDenominator,
		Display: dt.Display}
}

func toRestDevice(d *store.Device, tagIDs map[string]int64) restDevice {
	tags := []int64{}
	for _, t := range d.Tags {
		if id, ok := tagIDs[t]; ok {
			tags = append(tags, id)
		}
	}
	return restDevice{Hostname: d.Hostname, DeviceType: d.DeviceType,
		Description: nullable(d.Description), Tags: tags, State: d.State, Health: d.Health,
		LastHealthReportJob: d.LastHealthReportJob, WorkerHost: d.Worker}
}

// storeFailure answers a store error: 404 for ErrNotFound, 400 for a bad
// filter, 500 (logged) otherwise.
func (s *Server) storeFailure(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		restError(w, http.StatusNotFound, "Not found.")
	case errors.Is(err, store.ErrInvalidFilter):
		// Drop the "list x: invalid filter: " wrapping: the client wants the field.
		msg := err.Error()
		if _, after, ok := strings.Cut(msg, store.ErrInvalidFilter.Error()+": "); ok {
			msg = after
		}
		writeJSON(w, http.StatusBadRequest, []string{msg})
	default:
		s.logger.ErrorContext(r.Context(), "rest admin", "path", r.URL.Path, "err", err)
		restError(w, http.StatusInternalServerError, "A server error occurred.")
	}
}

// listPage parses ?limit&offset and the filters; it answers 400 itself.
func listPage(w http.ResponseWriter, r *http.Request, spec filterSpec) (Page, store.ListQuery, bool) {
	p, err := parsePage(r)
	if err != nil {
		restError(w, http.StatusBadRequest, err.Error())
		return p, store.ListQuery{}, false
	}
	q, ferr := spec.parse(r)
	if ferr != nil {
		writeJSON(w, http.StatusBadRequest, ferr)
		return p, q, false
	}
	q.Limit, q.Offset = p.Limit, p.Offset
	q.Restrict, q.Viewer = true, userFrom(r)
	return p, q, true
}

func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request) {
	p, q, ok := listPage(w, r, workerFilters)
	if !ok {
		return
	}
	ws, total, err := s.store.ListWorkers(r.Context(), realmOf(r), q)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restWorker, len(ws))
	for i := range ws {
		out[i] = toRestWorker(&ws[i])
	}
	writeJSON(w, http.StatusOK, paginated(r, p, total, out))
}

func (s *Server) getWorker(w http.ResponseWriter, r *http.Request) {
	wk, err := s.store.WorkerByName(r.Context(), realmOf(r), chi.URLParam(r, "hostname"))
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestWorker(wk))
}

func (s *Server) listDeviceTypes(w http.ResponseWriter, r *http.Request) {
	p, q, ok := listPage(w, r, deviceTypeFilters)
	if !ok {
		return
	}
	dts, total, err := s.store.ListDeviceTypes(r.Context(), realmOf(r), q)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restDeviceType, len(dts))
	for i := range dts {
		out[i] = toRestDeviceType(&dts[i])
	}
	writeJSON(w, http.StatusOK, paginated(r, p, total, out))
}

func (s *Server) getDeviceType(w http.ResponseWriter, r *http.Request) {
	dt, err := s.store.DeviceTypeByName(r.Context(), realmOf(r), chi.URLParam(r, "name"))
	if err == nil {
		err = s.hiddenDeviceType(r, dt.ID)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestDeviceType(dt))
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	p, q, ok := listPage(w, r, deviceFilters)
	if !ok {
		return
	}
	// LAVA hides Retired devices unless ?all= is given (any non-empty value).
	all := r.URL.Query().Get("all") != ""
	ds, total, err := s.store.ListDevices(r.Context(), realmOf(r), q, all)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	tagIDs, err := s.deviceTagIDs(r, ds...)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := make([]restDevice, len(ds))
	for i := range ds {
		out[i] = toRestDevice(&ds[i], tagIDs)
	}
	writeJSON(w, http.StatusOK, paginated(r, p, total, out))
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.DeviceByName(r.Context(), realmOf(r), chi.URLParam(r, "hostname"))
	if err == nil {
		err = s.hiddenDevice(r, d)
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	// LAVA's detail view shares the list's queryset: Retired devices need ?all=.
	if d.Health == store.DeviceRetired && r.URL.Query().Get("all") == "" {
		restError(w, http.StatusNotFound, "Not found.")
		return
	}
	tagIDs, err := s.deviceTagIDs(r, *d)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toRestDevice(d, tagIDs))
}

func (s *Server) deviceTagIDs(r *http.Request, ds ...store.Device) (map[string]int64, error) {
	var names []string
	for _, d := range ds {
		names = append(names, d.Tags...)
	}
	if len(names) == 0 {
		return nil, nil
	}
	return s.store.TagIDs(r.Context(), realmOf(r), names)
}
