package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/pkg/jobdef"
	"golava/server/scheduler"
	"golava/server/store"
)

// Periodic jobs over REST (golava's addition): a user schedules a job
// definition with a cron expression and a time zone; the leading
// lava-scheduler submits it as that user. Owners and superusers manage them.

func (s *Server) restPeriodic(r chi.Router) {
	r.Get("/periodic-jobs/", s.listPeriodic)
	r.Post("/periodic-jobs/", s.createPeriodic)
	r.Get("/periodic-jobs/{name}/", s.getPeriodic)
	r.Delete("/periodic-jobs/{name}/", s.deletePeriodic)
	r.Post("/periodic-jobs/{name}/enable/", s.enablePeriodic(true))
	r.Post("/periodic-jobs/{name}/disable/", s.enablePeriodic(false))
}

func (s *Server) listPeriodic(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	all, err := s.store.ListPeriodicJobs(r.Context(), realmOf(r))
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	out := []store.PeriodicJob{}
	for _, p := range all {
		if user.IsSuperuser || p.OwnerID == user.ID {
			out = append(out, p)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// ownedPeriodic loads the schedule named in the path for its owner or a
// superuser; others get 404, as for what they may not see.
func (s *Server) ownedPeriodic(w http.ResponseWriter, r *http.Request) (*store.PeriodicJob, bool) {
	user, ok := requireUser(w, r)
	if !ok {
		return nil, false
	}
	p, err := s.store.PeriodicJobByName(r.Context(), realmOf(r), chi.URLParam(r, "name"))
	if err == nil && !user.IsSuperuser && p.OwnerID != user.ID {
		err = store.ErrNotFound
	}
	if err != nil {
		s.storeFailure(w, r, err)
		return nil, false
	}
	return p, true
}

func (s *Server) getPeriodic(w http.ResponseWriter, r *http.Request) {
	if p, ok := s.ownedPeriodic(w, r); ok {
		writeJSON(w, http.StatusOK, p)
	}
}

func (s *Server) deletePeriodic(w http.ResponseWriter, r *http.Request) {
	p, ok := s.ownedPeriodic(w, r)
	if !ok {
		return
	}
	if err := s.store.DeletePeriodicJob(r.Context(), realmOf(r), p.Name); err != nil {
		s.storeFailure(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) enablePeriodic(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.ownedPeriodic(w, r)
		if !ok {
			return
		}
		c, err := scheduler.ParseCron(p.Cron, p.Timezone)
		if err != nil {
			restMessage(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := s.store.SetPeriodicJobEnabled(r.Context(), realmOf(r), p.Name, enabled, c.Next(time.Now())); err != nil {
			s.storeFailure(w, r, err)
			return
		}
		p, _ = s.store.PeriodicJobByName(r.Context(), realmOf(r), p.Name)
		writeJSON(w, http.StatusOK, p)
	}
}

// createPeriodic is POST periodic-jobs/ {name, cron, timezone, definition,
// enabled}: the definition must pass submission and the caller must be
// allowed to submit it, now as when it fires.
func (s *Server) createPeriodic(w http.ResponseWriter, r *http.Request) {
	user, ok := requireUser(w, r)
	if !ok {
		return
	}
	f, ok := requestFields(w, r)
	if !ok {
		return
	}
	errs := map[string][]string{}
	if err := store.ValidHostname("periodic job", f["name"]); err != nil {
		errs["name"] = []string{err.Error()}
	}
	if f["timezone"] == "" {
		f["timezone"] = "UTC"
	}
	c, err := scheduler.ParseCron(f["cron"], f["timezone"])
	if err != nil {
		errs["cron"] = []string{err.Error()}
	}
	var job *jobdef.Job
	if len(f["definition"]) > jobdef.MaxDefinitionBytes {
		errs["definition"] = []string{fmt.Sprintf("larger than %d bytes", jobdef.MaxDefinitionBytes)}
	} else if job, err = jobdef.ParseWith([]byte(f["definition"]), jobdef.Options{Submission: true}); err != nil {
		errs["definition"] = []string{err.Error()}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, errs)
		return
	}
	if msg, err := s.submitDenied(r, user, job); err != nil || msg != "" {
		if err != nil {
			s.internalError(w, r, err)
		} else {
			restMessage(w, http.StatusBadRequest, msg)
		}
		return
	}
	enabled := f["enabled"] == "" || f["enabled"] == "true" || f["enabled"] == "1"
	p := store.PeriodicJob{Name: f["name"], Cron: f["cron"], Timezone: f["timezone"], Definition: f["definition"],
		OwnerID: user.ID, Enabled: enabled}
	if _, err := s.store.CreatePeriodicJob(r.Context(), realmOf(r), p, c.Next(time.Now())); err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeJSON(w, http.StatusBadRequest, map[string][]string{"name": {"periodic job with this name already exists."}})
			return
		}
		s.storeFailure(w, r, err)
		return
	}
	created, err := s.store.PeriodicJobByName(r.Context(), realmOf(r), p.Name)
	if err != nil {
		s.storeFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, created)
}
