package api

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The submit permission is checked inside SubmitJobEstimate's first round
// trip: a user outside the granted group gets LAVA's refusal and nothing is
// stored; a member and an unknown type behave as before.
func TestRESTSubmitPermission(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	bob, _ := restricted(t, a)
	submit := func(token, def string) (int, string) {
		return a.do(t, "POST", "/api/v0.2/jobs/", url.Values{"definition": {def}}, "Authorization", "Token "+token)
	}
	count := func() int {
		var n int
		if err := a.st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM jobs WHERE state = 'Submitted'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	code, body := submit(bob, qemuJob)
	if code != http.StatusBadRequest || !strings.Contains(body, "Device unavailable: device type 'qemu' is not available to user 'bob'.") {
		t.Errorf("bob submits to qemu: %d %s", code, body)
	}
	if n := count(); n != before {
		t.Errorf("refused submission stored a job: %d queued, want %d", n, before)
	}
	code, body = submit(bob, strings.Replace(qemuJob, "device_type: qemu", "device_type: nosuch", 1))
	if code != http.StatusBadRequest || !strings.Contains(body, "Device type 'nosuch' is unavailable.") {
		t.Errorf("unknown type: %d %s", code, body)
	}
	if code, body = submit(a.aliceToken, qemuJob); code != http.StatusCreated {
		t.Errorf("alice submits to qemu: %d %s", code, body)
	}
	if n := count(); n != before+1 {
		t.Errorf("%d queued, want %d", n, before+1)
	}
}
