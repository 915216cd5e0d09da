package lab_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// lavacliRealm: the real lavacli, unchanged, works in another realm with a
// token of that realm, and sees nothing of the default realm (nor does the
// default realm's admin see the other realm's jobs).
func lavacliRealm(t *testing.T, admin *lavacli, l *lab) {
	ctx := context.Background()
	b := newBlueRealm(t, l.dbURL, "lab", "blue's host") // the default realm's worker name too
	st, token := b.st, b.bobToken
	var defaultJob int64
	if err := st.Pool().QueryRow(ctx, `SELECT max(id) FROM jobs WHERE realm_id = 1`).Scan(&defaultJob); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(admin.uri)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("bob", token)
	cli := &lavacli{t: t, home: t.TempDir(), uri: u.String()}

	devs := cli.ok("devices", "list", "--all")
	contains(t, "bob's devices list", devs, "blue-sim-01")
	if strings.Contains(devs, "dut-sim-01") {
		t.Fatalf("bob's devices list shows the default realm's board:\n%s", devs)
	}
	if out := cli.ok("workers", "show", "lab"); !strings.Contains(out, "blue's host") {
		t.Fatalf("bob's workers show lab is not blue's worker:\n%s", out)
	}
	if out := cli.ok("jobs", "list"); strings.Contains(out, "[admin]") {
		t.Fatalf("bob's jobs list shows the default realm's jobs:\n%s", out)
	}
	cli.fails("not found", "jobs", "show", fmt.Sprint(defaultJob))
	def := writeTemp(t, "blue.yaml", smokeJob(t))
	m := jobIDRE.FindStringSubmatch(cli.ok("jobs", "submit", def))
	if m == nil {
		t.Fatal("bob's jobs submit printed no job id")
	}
	contains(t, "bob's jobs show", cli.ok("jobs", "show", m[1]), "id          : "+m[1], "submitter   : bob", "state       : Submitted")
	contains(t, "bob's jobs list", cli.ok("jobs", "list"), "* "+m[1]+": Submitted")
	admin.fails("not found", "jobs", "show", m[1])
	cli.ok("jobs", "cancel", m[1])
}
