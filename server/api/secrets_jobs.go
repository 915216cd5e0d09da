package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/pkg/jobdef"
	"golava/pkg/logfmt"
	"golava/pkg/mask"
	"golava/pkg/workerapi"
	"golava/server/secrets"
	"golava/server/store"
)

// Secrets of jobs (issue 10). A stored job definition keeps its
// /lava/REALM/NAME references; the worker API puts the values in only in
// the copy it hands to the job's worker while the job is Scheduled or
// Running, and masks them in the log lines, results and end report the
// job sends back: a second line of defence behind lava-run's own masking.

// submitSecretsProblem is secrets.SubmitProblem with this server's key.
func (s *Server) submitSecretsProblem(ctx context.Context, realmID int64, job *jobdef.Job) (string, error) {
	return secrets.SubmitProblem(ctx, s.store, s.cfg.Secrets != nil, realmID, job.Secrets)
}

// errJobSecrets marks a job whose secrets cannot be delivered: the job's
// fault (a secret deleted after submission), not the server's.
var errJobSecrets = errors.New("job secrets")

// jobSecretRefs returns a stored definition's secrets: block and the keys
// of its /lava/ references.
func jobSecretRefs(definition string) (map[string]any, []string) {
	var doc struct {
		Secrets map[string]any `yaml:"secrets"`
	}
	if err := yaml.Unmarshal([]byte(definition), &doc); err != nil {
		return nil, nil // a definition that is not YAML fails elsewhere, with its own error
	}
	return doc.Secrets, secrets.Refs(doc.Secrets)
}

// resolveJobSecrets returns the values of the job's /lava/ references by
// key, and a masker over them (nil when there are none).
func (s *Server) resolveJobSecrets(ctx context.Context, j *store.Job) (map[string]string, *mask.Masker, error) {
	block, keys := jobSecretRefs(j.Definition)
	if len(keys) == 0 {
		return nil, nil, nil
	}
	doc := struct{ Secrets map[string]any }{block}
	if s.cfg.Secrets == nil {
		return nil, nil, fmt.Errorf("%w: secrets.%s: %v cannot be resolved: the server has no master key (--master-key-file)",
			errJobSecrets, keys[0], doc.Secrets[keys[0]])
	}
	realm, err := s.store.RealmByID(ctx, j.RealmID)
	if err != nil {
		return nil, nil, err
	}
	refs := make(map[string]any, len(keys))
	for _, k := range keys {
		refs[k] = doc.Secrets[k]
	}
	vals, err := s.cfg.Secrets.Resolve(ctx, realm.Name, refs)
	if err != nil {
		// Missing, of another realm or not decrypting: the message names
		// the key and the path, never a value.
		return nil, nil, fmt.Errorf("%w: %w", errJobSecrets, err)
	}
	list := make([]string, 0, len(vals))
	for _, v := range vals {
		list = append(list, v)
	}
	return vals, mask.New(list), nil
}

// failUndeliverable ends a job whose secrets cannot be delivered as
// Incomplete, as lava-run would, so that it does not wait for a worker
// that keeps asking: the worker is refused, and the scheduler stops
// offering the job once it is Finished. errorType is Job (a secret gone or
// of another realm) or Configuration (the server's master key does not
// open the realm's key: every job of the realm would fail the same way).
func (s *Server) failUndeliverable(ctx context.Context, id int64, errorType, msg string) error {
	now := time.Now()
	recs := []string{
		logfmt.Encode(logfmt.Line{DT: now, Lvl: logfmt.LevelError, Msg: msg}),
		logfmt.Encode(logfmt.Line{DT: now, Lvl: logfmt.LevelResults, Msg: map[string]any{
			"definition": "lava", "case": "job", "result": "fail", "error_type": errorType, "error_msg": msg}}),
	}
	if _, err := s.store.AppendLog(ctx, id, 0, recs); err != nil {
		s.logger.WarnContext(ctx, "cannot log why a job's secrets were not delivered", "job_id", id, "err", err)
	}
	return s.store.JobFinished(ctx, id, workerapi.Finish{Result: "fail", ErrorType: errorType, Errors: msg})
}

// deliverSecrets resolves the secrets of the job a worker fetches and
// caches their masker. It answers the worker itself and returns false
// when the job cannot run.
func (s *Server) deliverSecrets(w http.ResponseWriter, r *http.Request, j *store.Job) (map[string]string, bool) {
	if _, keys := jobSecretRefs(j.Definition); len(keys) > 0 && j.State != store.JobScheduled && j.State != store.JobRunning {
		// Values leave the server only for a run of the job.
		workerError(w, http.StatusConflict, fmt.Sprintf("Job '%d' is %s: its secrets are only delivered while it is Scheduled or Running", j.ID, j.State))
		return nil, false
	}
	vals, m, err := s.resolveJobSecrets(r.Context(), j)
	switch {
	case errors.Is(err, errJobSecrets):
		msg := strings.TrimPrefix(err.Error(), errJobSecrets.Error()+": ")
		errorType := "Job"
		if errors.Is(err, secrets.ErrWrongMasterKey) || errors.Is(err, secrets.ErrCorrupt) {
			errorType = "Configuration"
		}
		s.logger.WarnContext(r.Context(), "job secrets not delivered, job ends Incomplete", "job_id", j.ID, "error_type", errorType, "reason", msg)
		if ferr := s.failUndeliverable(r.Context(), j.ID, errorType, msg); ferr != nil && !errors.Is(ferr, store.ErrTransition) {
			s.workerInternal(w, r, ferr)
			return nil, false
		}
		workerError(w, http.StatusBadRequest, fmt.Sprintf("Job '%d' cannot run: %s", j.ID, msg))
		return nil, false
	case err != nil:
		s.workerInternal(w, r, err)
		return nil, false
	}
	s.masks.put(j.ID, m)
	return vals, true
}

// jobMasker returns the masker of a job's /lava/ secrets for what its
// worker posts; nil when it has none. A job this server did not deliver
// (another replica did, or the server restarted) is resolved again.
func (s *Server) jobMasker(ctx context.Context, id int64) *mask.Masker {
	if s.cfg.Secrets == nil {
		return nil // /lava/ references are refused at submission and never delivered
	}
	if m, ok := s.masks.get(id); ok {
		return m
	}
	j, err := s.store.JobByID(ctx, id)
	if err != nil {
		s.logger.WarnContext(ctx, "cannot read a job to mask its secrets", "job_id", id, "err", err)
		return nil
	}
	_, m, err := s.resolveJobSecrets(ctx, j)
	if err != nil {
		// lava-run masked what it sent; there is nothing better to do here.
		s.logger.WarnContext(ctx, "cannot resolve a job's secrets to mask them", "job_id", id, "err", err)
	}
	s.masks.put(id, m)
	return m
}

// maskRecords hides secret values in uploaded log records, decoded so
// that values the encoder escaped are found too. A record that does not
// decode is masked as text.
func maskRecords(m *mask.Masker, records []string) {
	if m == nil {
		return
	}
	for i, rec := range records {
		line, err := logfmt.Decode(rec)
		if err != nil {
			records[i] = m.Apply(rec)
			continue
		}
		msg, changed := m.ValueChanged(line.Msg)
		if ns := m.Apply(line.NS); ns != line.NS {
			line.NS, changed = ns, true
		}
		if changed {
			line.Msg = msg
			records[i] = logfmt.Encode(line)
		}
	}
}

// maskFinish hides secret values in a job's end report (stderr becomes
// the failure comment, description.yaml the pipeline description).
func maskFinish(m *mask.Masker, f *workerapi.Finish) {
	f.Errors = m.Apply(f.Errors)
	f.Description = m.Apply(f.Description)
}

// maskCache keeps the maskers of running jobs, bounded: the oldest entry
// goes first when full (a job whose entry went is resolved again).
type maskCache struct {
	mu    sync.Mutex
	max   int
	m     map[int64]*mask.Masker
	order []int64
}

func newMaskCache(max int) *maskCache {
	return &maskCache{max: max, m: map[int64]*mask.Masker{}}
}

func (c *maskCache) get(id int64) (*mask.Masker, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.m[id]
	return m, ok
}

func (c *maskCache) put(id int64, m *mask.Masker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok {
		c.order = append(c.order, id)
	}
	c.m[id] = m
	for len(c.m) > c.max && len(c.order) > 0 {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	if len(c.order) > 2*c.max { // ids of dropped entries
		live := c.order[:0]
		for _, id := range c.order {
			if _, ok := c.m[id]; ok {
				live = append(live, id)
			}
		}
		c.order = live
	}
}

func (c *maskCache) drop(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
