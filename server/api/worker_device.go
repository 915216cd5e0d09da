package api

import (
	"errors"
	"strings"

	"golava/server/store"
)

// errNoRenderer is returned for a Jinja2 dictionary until the device-type
// template renderer is wired in.
var errNoRenderer = errors.New("device dictionary needs the template renderer, which is not available")

// renderDevice renders the job's device dictionary into the device
// configuration lava-run reads. jobCtx is the job's context block, whose
// variables the templates see (LAVA's load_configuration(job_ctx)).
func (s *Server) renderDevice(wj *store.WorkerJob, jobCtx map[string]any) (string, error) {
	_ = jobCtx
	if !strings.Contains(wj.DeviceDictionary, "{%") && !strings.Contains(wj.DeviceDictionary, "{{") {
		// Already a rendered configuration (plain YAML).
		return wj.DeviceDictionary, nil
	}
	return "", errNoRenderer
}
