package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"golava/server/admin"
	"golava/server/store"
)

// Users, groups, tokens and permissions (the accounts side of LAVA's
// Django admin): thin commands over the store.

var accountCommands = []command{
	{"users list", "list users with their flags and groups", cmdUsersList},
	{"users update", "users update NAME [--superuser yes|no] [--staff yes|no] [--active yes|no] [--password-file F]", cmdUsersUpdate},
	{"users delete", "delete a user without jobs (deactivate the others): users delete NAME", cmdUsersDelete},
	{"groups list", "list groups and their members", cmdGroupsList},
	{"groups add", "add a group: groups add NAME", cmdGroupsEdit("add")},
	{"groups delete", "delete a group (memberships and grants too): groups delete NAME", cmdGroupsEdit("delete")},
	{"groups add-user", "groups add-user GROUP USER", cmdGroupsMember(true)},
	{"groups remove-user", "groups remove-user GROUP USER", cmdGroupsMember(false)},
	{"tokens list", "list a user's tokens (never the secrets): tokens list --user U", cmdTokensList},
	{"tokens delete", "revoke a token: tokens delete --user U ID", cmdTokensDelete},
	{"permissions list", "list grants of groups on device types and devices", cmdPermissionsList},
	{"permissions grant", "permissions grant GROUP view|submit|change device-type|device NAME", cmdPermissionsEdit(true)},
	{"permissions revoke", "permissions revoke GROUP view|submit|change device-type|device NAME", cmdPermissionsEdit(false)},
}

func init() { commands = append(commands, accountCommands...) }

// triState is a yes/no flag that may be left unset.
type triState struct{ v *bool }

func (t *triState) String() string {
	if t.v == nil {
		return ""
	}
	return strconv.FormatBool(*t.v)
}

func (t *triState) Set(s string) error {
	switch strings.ToLower(s) {
	case "yes", "true", "1":
		b := true
		t.v = &b
	case "no", "false", "0":
		b := false
		t.v = &b
	default:
		return fmt.Errorf("%q is not yes or no", s)
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func cmdUsersList(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("users list", "", cio)
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	return withStore(ctx, f, cio, "users list", func(st *store.Store) error {
		users, err := st.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(cio.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tSUPERUSER\tSTAFF\tACTIVE\tGROUPS")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, yesNo(u.IsSuperuser), yesNo(u.IsStaff), yesNo(u.IsActive), strings.Join(u.Groups, ","))
		}
		return tw.Flush()
	})
}

func cmdUsersUpdate(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("users update", "NAME", cio)
	var su, staff, active triState
	f.Var(&su, "superuser", "yes or no")
	f.Var(&staff, "staff", "yes or no")
	f.Var(&active, "active", "yes or no (an inactive user's tokens stop working)")
	pwFile := f.String("password-file", "", "set the password from the first line of this file")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "users update", func(st *store.Store) error {
		if err := st.UpdateUser(ctx, pos[0], su.v, staff.v, active.v); err != nil {
			return err
		}
		if *pwFile != "" {
			b, err := os.ReadFile(*pwFile)
			if err != nil {
				return fmt.Errorf("--password-file: %w", err)
			}
			line, _, _ := strings.Cut(string(b), "\n")
			u, err := st.UserByName(ctx, pos[0])
			if err != nil {
				return err
			}
			if err := st.SetPassword(ctx, u.ID, strings.TrimSuffix(line, "\r")); err != nil {
				return err
			}
		}
		fmt.Fprintf(cio.stdout, "user %s updated\n", pos[0])
		return nil
	})
}

func cmdUsersDelete(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("users delete", "NAME", cio)
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "users delete", func(st *store.Store) error {
		if err := st.DeleteUser(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(cio.stdout, "user %s deleted\n", pos[0])
		return nil
	})
}

func cmdGroupsList(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("groups list", "", cio)
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	return withStore(ctx, f, cio, "groups list", func(st *store.Store) error {
		groups, err := st.ListGroups(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			fmt.Fprintf(cio.stdout, "%s: %s\n", g.Name, strings.Join(g.Members, ","))
		}
		return nil
	})
}

func cmdGroupsEdit(verb string) func(ctx context.Context, args []string, cio cmdIO) int {
	return func(ctx context.Context, args []string, cio cmdIO) int {
		name := "groups " + verb
		f := newFlags(name, "NAME", cio)
		realm := f.String("realm", "", "add: the realm the group belongs to (default: the default realm)")
		pos, code, ok := f.parse(args, 1, 1)
		if !ok {
			return code
		}
		return withStore(ctx, f, cio, name, func(st *store.Store) error {
			var err error
			if verb == "add" {
				var id int64
				if id, err = admin.RealmID(ctx, st, *realm); err != nil {
					return err
				}
				_, err = st.CreateGroupIn(ctx, id, pos[0])
			} else {
				err = st.DeleteGroup(ctx, pos[0])
			}
			if err == nil {
				fmt.Fprintf(cio.stdout, "group %s %sed\n", pos[0], strings.TrimSuffix(verb, "e"))
			}
			return err
		})
	}
}

func cmdGroupsMember(add bool) func(ctx context.Context, args []string, cio cmdIO) int {
	name := "groups remove-user"
	if add {
		name = "groups add-user"
	}
	return func(ctx context.Context, args []string, cio cmdIO) int {
		f := newFlags(name, "GROUP USER", cio)
		pos, code, ok := f.parse(args, 2, 2)
		if !ok {
			return code
		}
		return withStore(ctx, f, cio, name, func(st *store.Store) error {
			if add {
				return st.AddUserToGroup(ctx, pos[1], pos[0])
			}
			return st.RemoveUserFromGroup(ctx, pos[1], pos[0])
		})
	}
}

func cmdTokensList(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("tokens list", "", cio)
	user := f.String("user", "", "owner of the tokens (required)")
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	if *user == "" {
		return fail(cio, "tokens list", errors.New("--user is required"))
	}
	return withStore(ctx, f, cio, "tokens list", func(st *store.Store) error {
		u, err := st.UserByName(ctx, *user)
		if err != nil {
			return err
		}
		toks, err := st.ListTokens(ctx, u.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(cio.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tLAST USED\tDESCRIPTION")
		for _, t := range toks {
			last := "never"
			if t.LastUsed != nil {
				last = t.LastUsed.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", t.ID, t.CreatedAt.UTC().Format("2006-01-02 15:04:05"), last, t.Description)
		}
		return tw.Flush()
	})
}

func cmdTokensDelete(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("tokens delete", "ID", cio)
	user := f.String("user", "", "owner of the token (required)")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || *user == "" {
		return fail(cio, "tokens delete", fmt.Errorf("want --user U and a numeric token ID (see tokens list), got %q", pos[0]))
	}
	return withStore(ctx, f, cio, "tokens delete", func(st *store.Store) error {
		u, err := st.UserByName(ctx, *user)
		if err != nil {
			return err
		}
		if err := st.DeleteToken(ctx, u.ID, id); err != nil {
			return err
		}
		fmt.Fprintf(cio.stdout, "token %d of %s deleted\n", id, *user)
		return nil
	})
}

func cmdPermissionsList(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("permissions list", "", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	return withStore(ctx, f, cio, "permissions list", func(st *store.Store) error {
		id, err := admin.RealmID(ctx, st, *realm)
		if err != nil {
			return err
		}
		grants, err := st.ListGrants(ctx, id)
		if err != nil {
			return err
		}
		for _, g := range grants {
			fmt.Fprintf(cio.stdout, "%s %s %s %s\n", g.Group, g.Permission, g.Kind, g.Object)
		}
		return nil
	})
}

func cmdPermissionsEdit(grant bool) func(ctx context.Context, args []string, cio cmdIO) int {
	name := "permissions revoke"
	if grant {
		name = "permissions grant"
	}
	return func(ctx context.Context, args []string, cio cmdIO) int {
		f := newFlags(name, "GROUP view|submit|change device-type|device NAME", cio)
		realm := f.String("realm", "", "realm of the device or type and group (default: the default realm)")
		pos, code, ok := f.parse(args, 4, 4)
		if !ok {
			return code
		}
		g := store.Grant{Group: pos[0], Permission: pos[1], Kind: pos[2], Object: pos[3]}
		return withStore(ctx, f, cio, name, func(st *store.Store) error {
			id, err := admin.RealmID(ctx, st, *realm)
			if err != nil {
				return err
			}
			if grant {
				return st.GrantPermission(ctx, id, g)
			}
			return st.RevokePermission(ctx, id, g)
		})
	}
}
