package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// The web UI acts in the realm of the session: a member of realm blue
// sees blue's jobs and devices and nothing of the default realm, and
// cannot log in to a realm he is not a member of.
func TestRealmIsolationUI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	blue, err := f.st.CreateRealm(f.ctx, "blue", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := f.st.CreateUser(f.ctx, store.NewUser{Username: "bob", Password: testPassword, RealmID: blue.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateDeviceType(f.ctx, blue.ID, store.NewDeviceType{Name: "dut-sim"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.st.CreateWorker(f.ctx, blue.ID, "blue-lab", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateDevice(f.ctx, blue.ID, store.NewDevice{Hostname: "blue-board", DeviceType: "dut-sim", Worker: "blue-lab"}); err != nil {
		t.Fatal(err)
	}
	aliceJob := f.submit(f.user, "alice-default-job", "public")
	def := fmt.Sprintf(jobYAML, "bob-blue-job", "public")
	j, err := jobdef.ParseWith([]byte(def), jobdef.Options{Submission: true})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := f.st.SubmitJob(f.ctx, blue.ID, bob.InRealm(blue), def, j)
	if err != nil {
		t.Fatal(err)
	}
	bobJob := ids[0]

	b := f.browser()
	// Asking for a realm one is not a member of fails like a missing one.
	tok := b.csrf("/accounts/login/")
	code, _, body := b.post("/accounts/login/", url.Values{"csrf": {tok}, "username": {"bob"}, "password": {testPassword}, "realm": {"default"}})
	if code != http.StatusForbidden || !strings.Contains(body, "not a member") {
		t.Fatalf("bob logs in to default: %d", code)
	}
	b.login("bob") // no realm asked: his only realm, blue
	_, body = b.get("/scheduler/alljobs")
	mustContain(t, body, "bob-blue-job", "@blue")
	if strings.Contains(body, "alice-default-job") {
		t.Error("bob's job list shows the default realm's job")
	}
	if code, _ := b.get(fmt.Sprintf("/scheduler/job/%d", aliceJob)); code != http.StatusNotFound {
		t.Errorf("bob opens alice's job: %d, want 404", code)
	}
	if code, _ := b.get(fmt.Sprintf("/scheduler/job/%d", bobJob)); code != http.StatusOK {
		t.Errorf("bob opens his job: %d", code)
	}
	_, body = b.get("/scheduler/alldevices")
	mustContain(t, body, "blue-board")
	if strings.Contains(body, f.device) {
		t.Error("bob's device list shows the default realm's board")
	}
	if code, _ := b.get("/scheduler/device/" + f.device); code != http.StatusNotFound {
		t.Errorf("bob opens the default realm's board: %d, want 404", code)
	}

	a := f.browser()
	a.login("alice")
	_, body = a.get("/scheduler/alljobs")
	mustContain(t, body, "alice-default-job")
	if strings.Contains(body, "bob-blue-job") {
		t.Error("alice's job list shows blue's job")
	}
	if code, _ := a.get(fmt.Sprintf("/scheduler/job/%d", bobJob)); code != http.StatusNotFound {
		t.Errorf("alice opens bob's job: %d, want 404", code)
	}
	// Anonymous visitors see the default realm only.
	anon := f.browser()
	if code, _ := anon.get(fmt.Sprintf("/scheduler/job/%d", bobJob)); code != http.StatusNotFound {
		t.Errorf("anonymous opens blue's public job: %d, want 404", code)
	}
	// Leaving the realm ends the session's access at once.
	if err := f.st.RemoveRealmMember(f.ctx, blue.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.get(fmt.Sprintf("/scheduler/job/%d", bobJob)); code != http.StatusNotFound {
		t.Errorf("bob after leaving blue opens his job: %d, want 404", code)
	}
}

// The submit form refuses what the API refuses: a device type the user
// may not submit to, and a secret path of another realm or none at all.
func TestSubmitFormChecks(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.st.CreateGroupIn(f.ctx, store.DefaultRealm, "board-team"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.GrantPermission(f.ctx, store.DefaultRealm, store.Grant{Group: "board-team", Permission: store.PermSubmit, Kind: "device-type", Object: "dut-sim"}); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.login("alice")
	tok := b.csrf("/scheduler/jobsubmit")
	good := fmt.Sprintf(jobYAML, "not-allowed", "public")
	code, _, body := b.post("/scheduler/jobsubmit", url.Values{"csrf": {tok}, "definition": {good}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "may not submit jobs to device type") {
		t.Fatalf("submit to a type reserved to a group alice is not in: %d", code)
	}
	if err := f.st.AddUserToGroup(f.ctx, "alice", "board-team"); err != nil {
		t.Fatal(err)
	}
	withSecret := good + "secrets:\n  TOKEN: /lava/blue/TOKEN\n"
	code, _, body = b.post("/scheduler/jobsubmit", url.Values{"csrf": {tok}, "definition": {withSecret}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "secrets.TOKEN") {
		t.Fatalf("secret path of another realm (or with no master key): %d", code)
	}
	if code, loc, _ := b.post("/scheduler/jobsubmit", url.Values{"csrf": {tok}, "definition": {good}}); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/scheduler/job/") {
		t.Fatalf("allowed submission: %d %q", code, loc)
	}
}
