package main

import (
	"strings"
	"testing"

	"golava/server/store/storetest"
)

func TestAccountCommands(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	steps := []struct {
		args []string
		code int
		out  string // substring of stdout, or of stderr when code != 0
	}{
		{[]string{"users", "add", "bob"}, 0, "user bob added"},
		{[]string{"users", "add", "carol"}, 0, "user carol added"},
		{[]string{"device-types", "add", "qemu"}, 0, ""},
		{[]string{"groups", "add", "team"}, 0, "group team added"},
		{[]string{"groups", "add", "team"}, 1, "already exists"},
		{[]string{"groups", "add-user", "team", "bob"}, 0, ""},
		{[]string{"groups", "add-user", "team", "nobody"}, 1, `user "nobody": not found`},
		{[]string{"groups", "list"}, 0, "team: bob"},
		{[]string{"users", "list"}, 0, "team"},
		{[]string{"users", "update", "carol", "--superuser", "yes", "--active", "no"}, 0, "user carol updated"},
		{[]string{"users", "update", "carol", "--superuser", "maybe"}, 2, `"maybe" is not yes or no`},
		{[]string{"users", "list"}, 0, "carol     yes        no     no"},
		{[]string{"tokens", "add", "--user", "bob", "--description", "ci"}, 0, ""},
		{[]string{"tokens", "list", "--user", "bob"}, 0, "never      ci"},
		{[]string{"tokens", "delete", "--user", "bob", "999"}, 1, "not found"},
		{[]string{"permissions", "grant", "team", "view", "device-type", "qemu"}, 0, ""},
		{[]string{"permissions", "grant", "team", "own", "device-type", "qemu"}, 1, "not one of view, submit, change"},
		{[]string{"permissions", "grant", "team", "view", "device-type", "nope"}, 1, `device-type "nope": not found`},
		{[]string{"permissions", "list"}, 0, "team view device-type qemu"},
		{[]string{"permissions", "revoke", "team", "view", "device-type", "qemu"}, 0, ""},
		{[]string{"permissions", "revoke", "team", "view", "device-type", "qemu"}, 1, "not found"},
		{[]string{"groups", "remove-user", "team", "bob"}, 0, ""},
		{[]string{"groups", "delete", "team"}, 0, "group team deleted"},
		{[]string{"users", "delete", "carol"}, 0, "user carol deleted"},
		{[]string{"users", "delete", "carol"}, 1, "not found"},
	}
	for _, s := range steps {
		code, out, errOut := lavaServer(t, append(s.args, "--database-url", db)...)
		got := out
		if s.code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(got, s.out) {
			t.Fatalf("lava-server %s: exit %d, stdout %q, stderr %q; want exit %d with %q",
				strings.Join(s.args, " "), code, out, errOut, s.code, s.out)
		}
	}
}
