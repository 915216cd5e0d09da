package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golava/server/store/storetest"
)

func TestRealmsCommands(t *testing.T) {
	t.Parallel()
	d := "--database-url=" + storetest.URL(t)
	steps := []struct {
		args    []string
		code    int
		outPart string
		errPart string
	}{
		{[]string{"realms", "add", "blue", "--description", "the blue lab", d}, 0, "realm blue added", ""},
		{[]string{"realms", "add", "blue", d}, 1, "", "already exists"},
		{[]string{"realms", "add", "Blue Lab", d}, 1, "", "lower-case"},
		{[]string{"realms", "list", d}, 0, "blue\tpayload_days=0\ttemp_days=7\tthe blue lab", ""},
		{[]string{"users", "add", "bob", "--realm", "blue", d}, 0, "user bob added", ""},
		{[]string{"users", "add", "carol", "--realm", "nosuch", d}, 1, "", `--realm "nosuch"`},
		{[]string{"tokens", "add", "--user", "bob", "--realm", "default", d}, 1, "", "not a member"},
		{[]string{"tokens", "add", "--user", "bob", "--realm", "blue", d}, 0, "", ""},
		{[]string{"realms", "members", "list", "blue", d}, 0, "bob\n", ""},
		{[]string{"realms", "members", "add", "default", "bob", d}, 0, "", ""},
		{[]string{"realms", "members", "remove", "blue", "bob", d}, 0, "", ""},
		{[]string{"realms", "members", "remove", "blue", "bob", d}, 1, "", "not found"},
		{[]string{"realms", "lifecycle", "blue", "--temp-days", "2", d}, 0, "payload_days=0 temp_days=2", ""},
		{[]string{"realms", "lifecycle", "blue", "--temp-days", "-2", d}, 1, "", "0 or more"},
		{[]string{"workers", "add", "w1", "--realm", "blue", d}, 0, "", ""},
		{[]string{"device-types", "add", "qemu", "--realm", "blue", d}, 0, "device type qemu added", ""},
		{[]string{"groups", "add", "blue-team", "--realm", "blue", d}, 0, "", ""},
		{[]string{"permissions", "grant", "blue-team", "view", "device-type", "qemu", "--realm", "blue", d}, 0, "", ""},
		{[]string{"permissions", "grant", "blue-team", "view", "device-type", "qemu", d}, 1, "", "not found"},
		{[]string{"permissions", "list", "--realm", "blue", d}, 0, "blue-team view device-type qemu", ""},
	}
	for i, s := range steps {
		var out, errb bytes.Buffer
		code := run(context.Background(), s.args, &out, &errb)
		if code != s.code || !strings.Contains(out.String(), s.outPart) || !strings.Contains(errb.String(), s.errPart) {
			t.Fatalf("step %d %v: code %d, stdout %q, stderr %q; want %d, %q, %q", i, s.args, code, out.String(), errb.String(), s.code, s.outPart, s.errPart)
		}
	}
}
