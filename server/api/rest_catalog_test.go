package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golava/server/store"
)

func TestRESTTagsAndAliases(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	admin := []string{"Authorization", "Token " + a.adminToken}
	alice := []string{"Authorization", "Token " + a.aliceToken}
	steps := []struct {
		method, path string
		body         url.Values
		auth         []string
		code         int
		want         string
	}{
		{"GET", "/api/v0.2/tags/", nil, nil, 403, "Authentication credentials were not provided."},
		{"GET", "/api/v0.2/tags/", nil, alice, 200, `"count":1,`},
		{"POST", "/api/v0.2/tags/", url.Values{"name": {"usb"}, "description": {"has usb"}}, alice, 403, "You do not have permission"},
		{"POST", "/api/v0.2/tags/", url.Values{"name": {"usb"}, "description": {"has usb"}}, admin, 201, `"name":"usb","description":"has usb"`},
		{"POST", "/api/v0.2/tags/", url.Values{"name": {"usb"}}, admin, 400, "already exists"},
		{"GET", "/api/v0.2/tags/?name__in=usb,none", nil, alice, 200, `"count":1,`},
		{"GET", "/api/v0.2/tags/?ordering=-name&limit=1", nil, alice, 200, `"results":[{"id":`},
		{"GET", "/api/v0.2/tags/?bogus=1", nil, alice, 400, "unknown filter bogus"},
		{"POST", "/api/v0.2/aliases/", url.Values{"name": {"q"}, "device_type": {"qemu"}}, admin, 201, `{"name":"q","device_type":"qemu"}`},
		{"POST", "/api/v0.2/aliases/", url.Values{"name": {"b"}, "device_type": {"bbb"}}, admin, 201, `"device_type":"bbb"`},
		{"POST", "/api/v0.2/aliases/", url.Values{"name": {"z"}, "device_type": {"nope"}}, admin, 400, "object does not exist"},
		{"GET", "/api/v0.2/aliases/?ordering=-name", nil, alice, 200, `"results":[{"name":"q","device_type":"qemu"},{"name":"b","device_type":"bbb"}]`},
		{"GET", "/api/v0.2/aliases/q/", nil, alice, 200, `{"name":"q","device_type":"qemu"}`},
		{"DELETE", "/api/v0.2/aliases/q/", nil, admin, 204, ""},
		{"GET", "/api/v0.2/aliases/q/", nil, alice, 404, "Not found."},
		{"GET", "/api/v0.2/system/version/", nil, nil, 200, `{"version":"2023.01"}`},
		{"GET", "/api/v0.2/system/whoami/", nil, alice, 200, `{"user":"alice"}`},
		{"GET", "/api/v0.2/system/whoami/", nil, nil, 200, `{"user":""}`},
	}
	for _, s := range steps {
		code, body := a.do(t, s.method, s.path, s.body, s.auth...)
		if code != s.code || !strings.Contains(compact(body), s.want) {
			t.Fatalf("%s %s: got %d %s, want %d with %s", s.method, s.path, code, body, s.code, s.want)
		}
	}
	// An alias of a device type alice may not see is hidden from her.
	ctx := context.Background()
	if _, err := a.st.CreateGroup(ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if err := a.st.GrantPermission(ctx, store.DefaultRealm, store.Grant{Kind: "device-type", Object: "bbb", Group: "team", Permission: store.PermView}); err != nil {
		t.Fatal(err)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/aliases/b/", nil, alice...); code != 404 {
		t.Fatalf("hidden alias: %d", code)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/aliases/", nil, alice...); code != 200 || strings.Contains(body, `"b"`) {
		t.Fatalf("hidden alias listed: %d %s", code, body)
	}
}

func TestRESTPermissions(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	if _, err := a.st.CreateGroup(context.Background(), "team"); err != nil {
		t.Fatal(err)
	}
	admin := []string{"Authorization", "Token " + a.adminToken}
	alice := []string{"Authorization", "Token " + a.aliceToken}
	code, body := a.do(t, "POST", "/api/v0.2/permissions/devicetypes/", url.Values{"group": {"team"}, "permission": {"view_devicetype"}, "devicetype": {"bbb"}}, admin...)
	if code != 201 || !strings.Contains(compact(body), `"permission":"view_devicetype"`) || !strings.Contains(compact(body), `"devicetype":"bbb"`) {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/devicetypes/bbb/", nil, alice...); code != 404 {
		t.Fatalf("bbb visible to alice after the grant: %d", code)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/permissions/devicetypes/", nil, alice...); code != 403 {
		t.Fatalf("alice lists grants: %d", code)
	}
	code, body = a.do(t, "POST", "/api/v0.2/permissions/devices/", url.Values{"group": {"team"}, "permission": {"own"}, "device": {"bbb-01"}}, admin...)
	if code != 400 || !strings.Contains(body, "codename=own") {
		t.Fatalf("bad codename: %d %s", code, body)
	}
	code, body = a.do(t, "GET", "/api/v0.2/permissions/devicetypes/", nil, admin...)
	if code != 200 || !strings.Contains(compact(body), `"count":1,`) {
		t.Fatalf("list: %d %s", code, body)
	}
	var id string
	if i := strings.Index(compact(body), `"id":`); i >= 0 {
		id = strings.SplitN(compact(body)[i+5:], ",", 2)[0]
	}
	if code, _ := a.do(t, "DELETE", "/api/v0.2/permissions/devicetypes/"+id+"/", nil, admin...); code != 204 {
		t.Fatalf("delete %s: %d", id, code)
	}
	if code, _ := a.do(t, "GET", "/api/v0.2/devicetypes/bbb/", nil, alice...); code != 200 {
		t.Fatalf("bbb hidden from alice after the revoke: %d", code)
	}
}

func TestRESTNestedResults(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	id := a.insertJob(t, "qemu-01", "Finished", "tok", "")
	var sid, tid int64
	err := a.st.Pool().QueryRow(context.Background(), `WITH s AS (INSERT INTO test_suites (job_id, name) VALUES ($1, '0_smoke') RETURNING id),
c AS (INSERT INTO test_cases (suite_id, name, result) SELECT s.id, 'a', 'pass' FROM s RETURNING id, suite_id)
SELECT suite_id, id FROM c`, id).Scan(&sid, &tid)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/", id, sid):               `"name":"0_smoke"`,
		fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/tests/", id, sid):         `"count":1,`,
		fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/tests/%d/", id, sid, tid): `"name":"a"`,
		fmt.Sprintf("/api/v0.2/jobs/%d/tests/%d/", id, tid):                `"result":"pass"`,
	} {
		code, body := a.do(t, "GET", path, nil)
		if code != 200 || !strings.Contains(compact(body), want) {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	if code, _ := a.do(t, "GET", fmt.Sprintf("/api/v0.2/jobs/%d/suites/%d/", id, sid+100), nil); code != 404 {
		t.Errorf("missing suite: %d", code)
	}
}

func TestRESTJobTimeFilters(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	old := a.insertJob(t, "", "Finished", "t1", "")
	recent := a.insertJob(t, "", "Finished", "t2", "")
	if _, err := a.st.Pool().Exec(context.Background(), `UPDATE jobs SET submit_time = '2020-01-01T00:00:00Z',
    end_time = '2020-01-02T00:00:00Z' WHERE id = $1`, old); err != nil {
		t.Fatal(err)
	}
	for query, want := range map[string][]int64{
		"submit_time__gt=2021-01-01":                                  {recent},
		"submit_time__lt=2021-01-01T00:00:00Z":                        {old},
		"end_time__gte=2020-01-02%2000:00:00&end_time__lt=2020-01-03": {old},
		"submit_time__gte=2019-12-31&ordering=submit_time":            {old, recent},
	} {
		code, body := a.do(t, "GET", "/api/v0.2/jobs/?"+query, nil)
		var got []int64
		for _, part := range strings.Split(compact(body), `{"id":`)[1:] {
			var id int64
			fmt.Sscan(strings.SplitN(part, ",", 2)[0], &id)
			got = append(got, id)
		}
		if code != 200 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("?%s: %d %v, want %v", query, code, got, want)
		}
	}
	if code, body := a.do(t, "GET", "/api/v0.2/jobs/?end_time__gt=yesterday", nil); code != 400 || !strings.Contains(body, "enter a valid date/time") {
		t.Errorf("bad time: %d %s", code, body)
	}
}
