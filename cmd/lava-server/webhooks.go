package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golava/server/store"
)

const webhooksUsage = "add URL [--secret-file F] | ls | rm URL|ID  (--realm R, default: the default realm)"

// cmdWebhooks is `webhooks add|ls|rm`: the URLs a realm's notices (one per
// finished job) are POSTed to. A signing secret comes from a file, never
// from the command line (ps, shell history).
func cmdWebhooks(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("webhooks", webhooksUsage, cio)
	realm := f.String("realm", store.DefaultRealmName, "the realm whose notices the webhook receives")
	secretFile := f.String("secret-file", "", "add: sign each POST with HMAC-SHA256 keyed with this file's first line (header X-Lava-Signature-256)")
	pos, code, ok := f.parse(args, 1, 2)
	if !ok {
		return code
	}
	verb := pos[0]
	if (verb == "ls") != (len(pos) == 1) {
		if len(pos) == 1 {
			fmt.Fprintf(cio.stderr, "lava-server webhooks %s: needs a URL\n", verb)
		} else {
			fmt.Fprintf(cio.stderr, "lava-server webhooks %s: takes no URL\n", verb)
		}
		f.Usage()
		return 2
	}
	return withStore(ctx, f, cio, "webhooks "+verb, func(st *store.Store) error {
		r, err := st.RealmByName(ctx, *realm)
		if err != nil {
			return err
		}
		switch verb {
		case "add":
			secret := ""
			if *secretFile != "" {
				b, err := os.ReadFile(*secretFile)
				if err != nil {
					return fmt.Errorf("secret: %w", err)
				}
				secret, _, _ = strings.Cut(string(b), "\n")
				secret = strings.TrimSuffix(secret, "\r")
				if secret == "" {
					return fmt.Errorf("secret: %s: the first line is empty", *secretFile)
				}
			}
			w, err := st.CreateWebhook(ctx, r.ID, pos[1], secret)
			if err != nil {
				return err
			}
			fmt.Fprintf(cio.stdout, "%d\n", w.ID)
			return nil
		case "ls":
			list, err := st.ListWebhooks(ctx, r.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cio.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tSIGNED\tPENDING\tSENT\tFAILED")
			for _, w := range list {
				fmt.Fprintf(tw, "%d\t%s\t%t\t%d\t%d\t%d\n", w.ID, w.URL, w.Secret != "", w.Pending, w.Sent, w.Failed)
			}
			return tw.Flush()
		case "rm":
			if id, err := strconv.ParseInt(pos[1], 10, 64); err == nil {
				return st.DeleteWebhook(ctx, r.ID, id)
			}
			return st.DeleteWebhookURL(ctx, r.ID, pos[1])
		}
		return fmt.Errorf("unknown action %q: use add, ls or rm", verb)
	})
}
