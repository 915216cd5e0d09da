package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golava/pkg/devconf"
	"golava/server/admin"
	"golava/server/store"
)

// Device and worker administration: health changes (maintenance, retire,
// re-activate, force a health check), dictionaries and worker documents.

func cmdDevicesSetHealth(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("devices set-health", "NAME HEALTH", cio)
	pos, code, ok := f.parse(args, 2, 2)
	if !ok {
		return code
	}
	health, valid := "", false
	for _, h := range store.DeviceHealths {
		if strings.EqualFold(h, pos[1]) {
			health, valid = h, true
		}
	}
	if !valid {
		return fail(cio, "devices set-health", fmt.Errorf("health %q is not one of %s", pos[1], strings.Join(store.DeviceHealths, ", ")))
	}
	return withStore(ctx, f, cio, "devices set-health", func(st *store.Store) error {
		d, err := st.SetDeviceHealth(ctx, store.DefaultRealm, pos[0], health)
		if err == nil {
			fmt.Fprintf(cio.stdout, "device %s: %s\n", d.Hostname, d.Health)
		}
		return err
	})
}

func cmdDevicesDict(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("devices dict", "get NAME | set NAME FILE", cio)
	var dirs dirList
	f.Var(&dirs, "templates", "folder of device-type templates the dictionary may extend (set checks it renders; default $LAVA_DEVICE_TYPES_DIR)")
	pos, code, ok := f.parse(args, 2, 3)
	if !ok {
		return code
	}
	switch {
	case pos[0] == "get" && len(pos) == 2:
		return withStore(ctx, f, cio, "devices dict", func(st *store.Store) error {
			d, err := st.DeviceByName(ctx, store.DefaultRealm, pos[1])
			if err == nil {
				fmt.Fprint(cio.stdout, d.Dictionary)
			}
			return err
		})
	case pos[0] == "set" && len(pos) == 3:
		dict, err := admin.ReadDictionary(pos[2])
		if err != nil {
			return fail(cio, "devices dict", err)
		}
		if len(dirs) == 0 {
			if d := env("LAVA_DEVICE_TYPES_DIR", ""); d != "" {
				dirs = append(dirs, d)
			}
		}
		var fss []fs.FS
		for _, d := range dirs {
			fss = append(fss, os.DirFS(d))
		}
		// A device whose dictionary does not render would fail every job.
		if _, err := devconf.NewRenderer(fss...).RenderWith(dict, nil); err != nil {
			return fail(cio, "devices dict", fmt.Errorf("%s does not render: %w", pos[2], err))
		}
		return withStore(ctx, f, cio, "devices dict", func(st *store.Store) error {
			err := st.SetDeviceDictionary(ctx, store.DefaultRealm, pos[1], dict)
			if err == nil {
				fmt.Fprintf(cio.stdout, "device %s: dictionary updated\n", pos[1])
			}
			return err
		})
	}
	f.Usage()
	return 2
}

func cmdWorkersSetHealth(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("workers set-health", "NAME Active|Maintenance|Retired", cio)
	pos, code, ok := f.parse(args, 2, 2)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "workers set-health", func(st *store.Store) error {
		h := pos[1]
		for _, v := range []string{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired} {
			if strings.EqualFold(v, h) {
				h = v
			}
		}
		w, err := st.SetWorkerHealth(ctx, store.DefaultRealm, pos[0], h)
		if err == nil {
			fmt.Fprintf(cio.stdout, "worker %s: %s\n", w.Hostname, w.Health)
		}
		return err
	})
}

// cmdWorkersDoc is "workers config|env|env-dut get NAME | set NAME FILE":
// the dispatcher.yaml, env.yaml and env-dut.yaml handed to the worker with
// every job.
func cmdWorkersDoc(kind string) func(ctx context.Context, args []string, cio cmdIO) int {
	name := "workers " + map[string]string{"dispatcher": "config", "env": "env", "env-dut": "env-dut"}[kind]
	return func(ctx context.Context, args []string, cio cmdIO) int {
		f := newFlags(name, "get NAME | set NAME FILE (FILE - clears it)", cio)
		pos, code, ok := f.parse(args, 2, 3)
		if !ok {
			return code
		}
		switch {
		case pos[0] == "get" && len(pos) == 2:
			return withStore(ctx, f, cio, name, func(st *store.Store) error {
				doc, err := st.WorkerDoc(ctx, store.DefaultRealm, pos[1], kind)
				if err == nil {
					fmt.Fprint(cio.stdout, doc)
				}
				return err
			})
		case pos[0] == "set" && len(pos) == 3:
			doc := ""
			if pos[2] != "-" {
				b, err := admin.ReadDictionary(pos[2])
				if err != nil {
					return fail(cio, name, err)
				}
				doc = b
			}
			return withStore(ctx, f, cio, name, func(st *store.Store) error {
				err := st.SetWorkerDoc(ctx, store.DefaultRealm, pos[1], kind, doc)
				if err == nil {
					fmt.Fprintf(cio.stdout, "worker %s: %s updated\n", pos[1], kind)
				}
				return err
			})
		}
		f.Usage()
		return 2
	}
}

// cmdFairShare is "fair-share set GROUP WEIGHT" (0 removes the group) and
// "fair-share list".
func cmdFairShare(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("fair-share", "list | set GROUP WEIGHT", cio)
	pos, code, ok := f.parse(args, 1, 3)
	if !ok {
		return code
	}
	switch {
	case pos[0] == "list" && len(pos) == 1:
		return withStore(ctx, f, cio, "fair-share", func(st *store.Store) error {
			list, err := st.ListFairShare(ctx, store.DefaultRealm)
			for _, s := range list {
				fmt.Fprintf(cio.stdout, "%s\tweight %g\trunning %d\tqueued %d\n", s.Group, s.Weight, s.Running, s.Queued)
			}
			return err
		})
	case pos[0] == "set" && len(pos) == 3:
		var w float64
		if _, err := fmt.Sscan(pos[2], &w); err != nil {
			return fail(cio, "fair-share", fmt.Errorf("weight %q is not a number", pos[2]))
		}
		return withStore(ctx, f, cio, "fair-share", func(st *store.Store) error {
			err := st.SetFairShare(ctx, store.DefaultRealm, pos[1], w)
			if err == nil {
				fmt.Fprintf(cio.stdout, "group %s: weight %g\n", pos[1], w)
			}
			return err
		})
	}
	f.Usage()
	return 2
}
