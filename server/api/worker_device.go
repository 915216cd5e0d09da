package api

import (
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing/fstest"

	"golava/pkg/devconf"
	"golava/server/store"
)

// renderers holds one template renderer per Server: a renderer caches the
// templates it reads, so it lives as long as the server.
var renderers sync.Map // *Server -> *devconf.Renderer

func (s *Server) renderer() *devconf.Renderer {
	if r, ok := renderers.Load(s); ok {
		return r.(*devconf.Renderer)
	}
	r, _ := renderers.LoadOrStore(s, devconf.NewRenderer(s.templateDirs()...))
	return r.(*devconf.Renderer)
}

func (s *Server) templateDirs() []fs.FS {
	if s.cfg.DeviceTypesDir == "" {
		return nil
	}
	return []fs.FS{os.DirFS(s.cfg.DeviceTypesDir)}
}

// renderDevice renders the job's device dictionary into the device
// configuration lava-run reads, with the job's context variables (LAVA's
// Device.load_configuration(job_ctx)). A device type whose template was
// edited in the database renders with that template instead of the file.
func (s *Server) renderDevice(wj *store.WorkerJob, jobCtx map[string]any) (string, error) {
	r, dict := s.renderer(), wj.DeviceDictionary
	if wj.DeviceTypeTemplate != nil {
		// Rare (an admin edit): a renderer of its own, not cached. The
		// renderer searches its embedded templates first, so the edited
		// one gets a name of its own and the dictionary extends that.
		name := "db-edited-" + wj.DeviceType + ".jinja2"
		for _, q := range []string{"'", `"`} {
			dict = strings.ReplaceAll(dict, q+wj.DeviceType+".jinja2"+q, q+name+q)
		}
		edited := fstest.MapFS{name: {Data: []byte(*wj.DeviceTypeTemplate)}}
		r = devconf.NewRenderer(append([]fs.FS{edited}, s.templateDirs()...)...)
	}
	return r.RenderWith(dict, jobCtx)
}
