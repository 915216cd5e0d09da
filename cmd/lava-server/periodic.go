package main

import (
	"context"
	"fmt"
	"time"

	"golava/pkg/jobdef"
	"golava/server/admin"
	"golava/server/scheduler"
	"golava/server/store"
)

// cmdPeriodic is "periodic list | add NAME --cron C [--timezone TZ] --owner
// U --definition FILE | delete NAME | enable NAME | disable NAME".
func cmdPeriodic(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("periodic", "list | add NAME | delete NAME | enable NAME | disable NAME", cio)
	cron := f.String("cron", "", "five-field cron expression, e.g. '0 3 * * *' (add)")
	tz := f.String("timezone", "UTC", "IANA time zone of the cron expression (add)")
	owner := f.String("owner", "", "user the job is submitted as (add)")
	defFile := f.String("definition", "", "job definition file (add)")
	pos, code, ok := f.parse(args, 1, 2)
	if !ok {
		return code
	}
	verb := pos[0]
	if (verb == "list") != (len(pos) == 1) {
		f.Usage()
		return 2
	}
	return withStore(ctx, f, cio, "periodic", func(st *store.Store) error {
		switch verb {
		case "list":
			list, err := st.ListPeriodicJobs(ctx, store.DefaultRealm)
			for _, p := range list {
				next := "-"
				if p.NextRun != nil && p.Enabled {
					next = p.NextRun.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(cio.stdout, "%s\t%s (%s)\towner %s\tnext %s\t%s\n", p.Name, p.Cron, p.Timezone, p.Owner, next, p.LastError)
			}
			return err
		case "add":
			return addPeriodic(ctx, st, cio, pos[1], *cron, *tz, *owner, *defFile)
		case "delete":
			return st.DeletePeriodicJob(ctx, store.DefaultRealm, pos[1])
		case "enable", "disable":
			p, err := st.PeriodicJobByName(ctx, store.DefaultRealm, pos[1])
			if err != nil {
				return err
			}
			c, err := scheduler.ParseCron(p.Cron, p.Timezone)
			if err != nil {
				return err
			}
			return st.SetPeriodicJobEnabled(ctx, store.DefaultRealm, p.Name, verb == "enable", c.Next(time.Now()))
		}
		return fmt.Errorf("unknown action %q: use list, add, delete, enable or disable", verb)
	})
}

func addPeriodic(ctx context.Context, st *store.Store, cio cmdIO, name, cron, tz, owner, defFile string) error {
	if cron == "" || owner == "" || defFile == "" {
		return fmt.Errorf("add needs --cron, --owner and --definition")
	}
	c, err := scheduler.ParseCron(cron, tz)
	if err != nil {
		return err
	}
	def, err := admin.ReadDictionary(defFile)
	if err != nil {
		return fmt.Errorf("definition: %w", err)
	}
	if _, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true}); err != nil {
		return fmt.Errorf("definition %s: %w", defFile, err)
	}
	u, err := st.UserByName(ctx, owner)
	if err != nil {
		return fmt.Errorf("owner %q: %w", owner, err)
	}
	next := c.Next(time.Now())
	if _, err := st.CreatePeriodicJob(ctx, store.DefaultRealm, store.PeriodicJob{Name: name, Cron: cron, Timezone: tz,
		Definition: def, OwnerID: u.ID, Enabled: true}, next); err != nil {
		return err
	}
	fmt.Fprintf(cio.stdout, "periodic job %s added, next run %s\n", name, next.Format(time.RFC3339))
	return nil
}
