package api

import (
	"net/url"
	"strings"
	"testing"
)

const periodicJob = `device_type: qemu
job_name: nightly
visibility: public
timeouts: {job: {minutes: 5}}
actions:
- boot: {method: minimal}
`

func TestRESTPeriodicJobs(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin, alice := []string{"Authorization", "Token " + a.adminToken}, []string{"Authorization", "Token " + a.aliceToken}
	tests := []struct {
		name, method, path string
		body               url.Values
		auth               []string
		code               int
		has                string
	}{
		{"create", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"nightly"}, "cron": {"0 3 * * *"},
			"timezone": {"Europe/Paris"}, "definition": {periodicJob}}, alice, 201, `"owner":"alice","enabled":true,"next_run":"`},
		{"duplicate", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"nightly"}, "cron": {"0 3 * * *"},
			"definition": {periodicJob}}, alice, 400, "already exists"},
		{"bad cron", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"x"}, "cron": {"0 25 * * *"},
			"definition": {periodicJob}}, alice, 400, `"cron"`},
		{"bad zone", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"x"}, "cron": {"0 2 * * *"}, "timezone": {"Nowhere/City"},
			"definition": {periodicJob}}, alice, 400, "time zone"},
		{"bad definition", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"x"}, "cron": {"0 2 * * *"},
			"definition": {"job_name: ["}}, alice, 400, `"definition"`},
		{"bad name", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"a b"}, "cron": {"0 2 * * *"},
			"definition": {periodicJob}}, alice, 400, `"name"`},
		{"anonymous", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"y"}}, nil, 403, ""},
		{"admin's", "POST", "/api/v0.2/periodic-jobs/", url.Values{"name": {"weekly"}, "cron": {"0 4 * * 0"},
			"definition": {periodicJob}, "enabled": {"false"}}, admin, 201, `"enabled":false,"next_run":"`},
		{"alice lists hers", "GET", "/api/v0.2/periodic-jobs/", nil, alice, 200, `"name":"nightly"`},
		{"alice cannot see admin's", "GET", "/api/v0.2/periodic-jobs/weekly/", nil, alice, 404, ""},
		{"admin sees alice's", "GET", "/api/v0.2/periodic-jobs/nightly/", nil, admin, 200, `"cron":"0 3 * * *","timezone":"Europe/Paris"`},
		{"disable", "POST", "/api/v0.2/periodic-jobs/nightly/disable/", nil, alice, 200, `"enabled":false`},
		{"enable", "POST", "/api/v0.2/periodic-jobs/nightly/enable/", nil, alice, 200, `"enabled":true`},
		{"delete", "DELETE", "/api/v0.2/periodic-jobs/nightly/", nil, alice, 204, ""},
		{"gone", "GET", "/api/v0.2/periodic-jobs/nightly/", nil, alice, 404, ""},
	}
	for _, tt := range tests {
		code, body := a.do(t, tt.method, tt.path, tt.body, tt.auth...)
		if code != tt.code || !strings.Contains(compact(body), tt.has) {
			t.Errorf("%s: %d %s, want %d with %s", tt.name, code, body, tt.code, tt.has)
		}
	}
	code, body := a.do(t, "GET", "/api/v0.2/periodic-jobs/", nil, alice...)
	if code != 200 || strings.Contains(body, "weekly") {
		t.Errorf("alice's list shows admin's schedule: %s", body)
	}
}
