package main

import (
	"context"
	"fmt"
	"strconv"

	"golava/server/admin"
	"golava/server/store"
)

func init() {
	commands = append(commands,
		command{"realms add", "add a realm: realms add NAME [--description D]", cmdRealmsAdd},
		command{"realms list", "list realms with their artifact lifecycle", cmdRealmsList},
		command{"realms members", "realm membership: realms members list REALM | add|remove REALM USER", cmdRealmsMembers},
		command{"realms lifecycle", "expire artifacts after N days (0 keeps): realms lifecycle REALM [--payload-days N] [--temp-days N]", cmdRealmsLifecycle},
	)
}

func cmdRealmsAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("realms add", "NAME", cio)
	desc := f.String("description", "", "what the realm is for")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "realms add", func(st *store.Store) error {
		r, err := st.CreateRealm(ctx, pos[0], *desc)
		if err == nil {
			fmt.Fprintf(cio.stdout, "realm %s added (id %d)\n", r.Name, r.ID)
		}
		return err
	})
}

func cmdRealmsList(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("realms list", "", cio)
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	return withStore(ctx, f, cio, "realms list", func(st *store.Store) error {
		realms, err := st.ListRealms(ctx, &store.User{IsSuperuser: true})
		for _, r := range realms {
			fmt.Fprintf(cio.stdout, "%s\tpayload_days=%d\ttemp_days=%d\t%s\n", r.Name, r.PayloadDays, r.TempDays, r.Description)
		}
		return err
	})
}

func cmdRealmsMembers(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("realms members", "list REALM | add|remove REALM USER", cio)
	pos, code, ok := f.parse(args, 2, 3)
	if !ok {
		return code
	}
	verb := pos[0]
	if (verb == "list") != (len(pos) == 2) || (verb != "list" && verb != "add" && verb != "remove") {
		f.Usage()
		return 2
	}
	return withStore(ctx, f, cio, "realms members "+verb, func(st *store.Store) error {
		id, err := admin.RealmID(ctx, st, pos[1])
		if err != nil {
			return err
		}
		if verb == "list" {
			names, err := st.RealmMembers(ctx, id)
			for _, n := range names {
				fmt.Fprintln(cio.stdout, n)
			}
			return err
		}
		u, err := st.UserByName(ctx, pos[2])
		if err != nil {
			return err
		}
		if verb == "add" {
			return st.AddRealmMember(ctx, id, u.ID)
		}
		return st.RemoveRealmMember(ctx, id, u.ID)
	})
}

func cmdRealmsLifecycle(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("realms lifecycle", "REALM", cio)
	payload := f.String("payload-days", "", "expire payload artifacts after this many days (0: keep)")
	temp := f.String("temp-days", "", "expire temp artifacts after this many days (0: keep)")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "realms lifecycle", func(st *store.Store) error {
		r, err := st.RealmByName(ctx, pos[0])
		if err != nil {
			return err
		}
		for _, d := range []struct {
			flag string
			val  string
			dst  *int
		}{{"--payload-days", *payload, &r.PayloadDays}, {"--temp-days", *temp, &r.TempDays}} {
			if d.val == "" {
				continue
			}
			n, err := strconv.Atoi(d.val)
			if err != nil || n < 0 {
				return fmt.Errorf("%s %q: want a whole number of days, 0 or more", d.flag, d.val)
			}
			*d.dst = n
		}
		if err := st.SetRealmLifecycle(ctx, r.ID, r.PayloadDays, r.TempDays); err != nil {
			return err
		}
		fmt.Fprintf(cio.stdout, "realm %s: payload_days=%d temp_days=%d\n", r.Name, r.PayloadDays, r.TempDays)
		return nil
	})
}
