package scheduler

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"testing/fstest"

	"golava/pkg/devconf"
	"golava/server/store"
)

// devCheck sets Bad the schedulable devices whose configuration does not
// render, as LAVA's scheduler does with device.is_valid() before giving a
// device a job: a job on such a device could only fail. Each device is
// rendered again only when its dictionary or its type's edited template
// changed (by hash), so a lab of thousands costs one cheap query per tick.
type devCheck struct {
	dirs     []fs.FS
	renderer *devconf.Renderer
	checked  map[int64]string // device id -> hash found valid
}

func newDevCheck(templatesDir string) *devCheck {
	var dirs []fs.FS
	if templatesDir != "" {
		dirs = append(dirs, os.DirFS(templatesDir))
	}
	return &devCheck{dirs: dirs, renderer: devconf.NewRenderer(dirs...), checked: map[int64]string{}}
}

// render renders c; an edited template gets a name of its own that the
// dictionary is pointed at, as the worker API does.
func (d *devCheck) render(c store.DeviceConfig) error {
	r, dict := d.renderer, c.Dictionary
	if c.Template != nil {
		name := "db-edited-" + c.DeviceType + ".jinja2"
		for _, q := range []string{"'", `"`} {
			dict = strings.ReplaceAll(dict, q+c.DeviceType+".jinja2"+q, q+name+q)
		}
		r = devconf.NewRenderer(append([]fs.FS{fstest.MapFS{name: {Data: []byte(*c.Template)}}}, d.dirs...)...)
	}
	_, err := r.Render(dict)
	return err
}

// checkDevices checks the devices that changed since the last check.
func (s *Scheduler) checkDevices(ctx context.Context) {
	if s.devs == nil {
		return
	}
	hashes, err := s.st.DeviceConfigHashes(ctx, s.cfg.RealmID)
	if err != nil {
		s.logger.WarnContext(ctx, "check device configurations", slog.Any("error", err))
		return
	}
	var changed []int64
	for id, h := range hashes {
		if s.devs.checked[id] != h {
			changed = append(changed, id)
		}
	}
	for id := range s.devs.checked {
		if _, ok := hashes[id]; !ok {
			delete(s.devs.checked, id) // no longer schedulable: check again when it is
		}
	}
	if len(changed) == 0 {
		return
	}
	configs, err := s.st.DeviceConfigs(ctx, changed)
	if err != nil {
		s.logger.WarnContext(ctx, "check device configurations", slog.Any("error", err))
		return
	}
	for _, c := range configs {
		rerr := s.devs.render(c)
		if rerr == nil {
			s.devs.checked[c.ID] = c.Hash
			continue
		}
		if _, err := s.st.SetDeviceHealth(ctx, s.cfg.RealmID, c.Hostname, store.DeviceBad); err != nil {
			s.logger.WarnContext(ctx, "set device Bad", slog.String("device", c.Hostname), slog.Any("error", err))
			continue
		}
		s.logger.WarnContext(ctx, "device set Bad: invalid device configuration",
			slog.String("device", c.Hostname), slog.Any("error", rerr))
	}
}
