package main

import (
	"context"
	"strings"

	"golava/server/admin"
)

// dirList is a repeatable flag.
type dirList []string

func (d *dirList) String() string     { return strings.Join(*d, ",") }
func (d *dirList) Set(v string) error { *d = append(*d, v); return nil }

func cmdRenderDevice(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("render-device", "DICT", cio)
	var dirs dirList
	f.Var(&dirs, "templates", "folder of device-type templates *.jinja2, searched in order after golava's own; repeatable (default $LAVA_DEVICE_TYPES_DIR)")
	ctxFile := f.String("context", "", "YAML file of job context variables, as a job's context: block")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	if len(dirs) == 0 {
		if d := env("LAVA_DEVICE_TYPES_DIR", ""); d != "" {
			dirs = append(dirs, d)
		}
	}
	if err := admin.RenderDevice(cio.stdout, pos[0], dirs, *ctxFile); err != nil {
		return fail(cio, "render-device", err)
	}
	return 0
}
