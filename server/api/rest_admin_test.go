package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"golava/server/store"
)

// listNames reads the "hostname" (or "name") of each result of a list reply.
func listNames(t *testing.T, body string) (int64, []string, *string) {
	t.Helper()
	var p struct {
		Count   int64            `json:"count"`
		Next    *string          `json:"next"`
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var names []string
	for _, r := range p.Results {
		n, ok := r["hostname"].(string)
		if !ok {
			n, _ = r["name"].(string)
		}
		names = append(names, n)
	}
	return p.Count, names, p.Next
}

func TestRESTDevices(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	job := a.insertJob(t, "qemu-01", store.JobRunning, "tok", "")
	if _, err := a.st.Pool().Exec(context.Background(), `UPDATE devices SET state = 'Running', last_health_report_job_id = $1 WHERE hostname = 'qemu-01'`, job); err != nil {
		t.Fatal(err)
	}
	ids, err := a.st.TagIDs(context.Background(), store.DefaultRealm, []string{"kvm"})
	if err != nil {
		t.Fatal(err)
	}
	code, body := a.do(t, "GET", "/api/v0.2/devices/qemu-01/", nil)
	want := fmt.Sprintf(`{"hostname":"qemu-01","device_type":"qemu","device_version":null,"physical_owner":null,`+
		`"physical_group":null,"description":"first","tags":[%d],"state":"Running","health":"Good",`+
		`"last_health_report_job":%d,"worker_host":"w1","is_synced":false}`, ids["kvm"], job)
	if code != 200 || compact(body) != want {
		t.Errorf("device: %d %s\nwant %s", code, body, want)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/devices/bbb-old/", nil); code != 404 {
		t.Errorf("retired device without ?all=: %d %s", code, body)
	}
	code, body = a.do(t, "GET", "/api/v0.2/devices/bbb-old/?all=1", nil)
	if code != 200 || !strings.Contains(body, `"description":null`) || !strings.Contains(body, `"worker_host":null`) || !strings.Contains(body, `"tags":[]`) {
		t.Errorf("retired device detail: %d %s", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/devices/nope/", nil); code != 404 || compact(body) != `{"detail":"Not found."}` {
		t.Errorf("unknown device: %d %s", code, body)
	}

	tests := []struct {
		query string
		count int64
		names string
	}{
		{"", 3, "bbb-01,qemu-01,qemu-02"},
		{"?all=1", 4, "bbb-01,bbb-old,qemu-01,qemu-02"},
		{"?state=Running", 1, "qemu-01"},
		{"?health=maintenance", 1, "qemu-02"},
		{"?health__in=0,4", 2, "qemu-01,qemu-02"},
		{"?state__in=0&all=true", 3, "bbb-01,bbb-old,qemu-02"},
		{"?health__iexact=1", 1, "bbb-01"},
		{"?hostname__startswith=qemu", 2, "qemu-01,qemu-02"},
		{"?hostname__in=bbb-01,qemu-02,zz", 2, "bbb-01,qemu-02"},
		{"?hostname__icontains=EMU-0", 2, "qemu-01,qemu-02"},
		{"?device_type=bbb&all=1", 2, "bbb-01,bbb-old"},
		{"?device_type__name=qemu", 2, "qemu-01,qemu-02"},
		{"?worker_host=w2", 1, "bbb-01"},
		{"?tags__name=kvm", 1, "qemu-01"},
		{"?ordering=-hostname", 3, "qemu-02,qemu-01,bbb-01"},
		{"?ordering=health", 3, "qemu-01,bbb-01,qemu-02"},
		{"?ordering=bogus,-device_type", 3, "qemu-01,qemu-02,bbb-01"},
		{"?unknown=1&format=json", 3, "bbb-01,qemu-01,qemu-02"},
		{"?health__in=99", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, body := a.do(t, "GET", "/api/v0.2/devices/"+tt.query, nil)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			count, names, _ := listNames(t, body)
			if count != tt.count || strings.Join(names, ",") != tt.names {
				t.Errorf("got %d %v, want %d %s", count, names, tt.count, tt.names)
			}
		})
	}
	bad := []struct{ query, body string }{
		{"?state=Busy", `["Select a valid choice. Busy is not one of the available choices: ('Idle', 'Reserved', 'Running')"]`},
		{"?health=Sick", `["Select a valid choice. Sick is not one of the available choices: ('Good', 'Unknown', 'Looping', 'Bad', 'Maintenance', 'Retired')"]`},
		{"?state__in=x", `{"state__in":["Enter a number."]}`},
		{"?limit=-1", `{"detail":"limit: \"-1\" is not a non-negative integer"}`},
	}
	for _, tt := range bad {
		if code, body := a.do(t, "GET", "/api/v0.2/devices/"+tt.query, nil); code != 400 || compact(body) != tt.body {
			t.Errorf("%s: %d %s, want 400 %s", tt.query, code, body, tt.body)
		}
	}
}

func TestRESTPagination(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	code, body := a.do(t, "GET", "/api/v0.2/devices/?limit=2", nil)
	count, names, next := listNames(t, body)
	if code != 200 || count != 3 || strings.Join(names, ",") != "bbb-01,qemu-01" || next == nil {
		t.Fatalf("page 1: %d %s", code, body)
	}
	if !strings.HasPrefix(*next, a.ts.URL+"/api/v0.2/devices/?") || !strings.Contains(*next, "offset=2") {
		t.Errorf("next = %s", *next)
	}
	code, body = a.do(t, "GET", strings.TrimPrefix(*next, a.ts.URL), nil)
	count, names, next = listNames(t, body)
	if code != 200 || count != 3 || strings.Join(names, ",") != "qemu-02" || next != nil || !strings.Contains(body, `"previous":"http`) {
		t.Errorf("page 2: %d %s", code, body)
	}
	// The default page is LAVA's 50.
	code, body = a.do(t, "GET", "/api/v0.2/workers/", nil)
	if code != 200 || !strings.Contains(compact(body), `"count":2,"next":null,"previous":null`) {
		t.Errorf("workers: %d %s", code, body)
	}
}

func TestRESTWorkers(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	code, body := a.do(t, "GET", "/api/v0.2/workers/w1/", nil, "Authorization", "Token "+a.adminToken)
	want := `{"hostname":"w1","health":"Active","state":"Offline","description":"lab host","last_ping":null,"job_limit":0,"version":null}`
	if code != 200 || compact(body) != want {
		t.Errorf("worker: %d %s\nwant %s", code, body, want)
	}
	w1, err := a.st.WorkerByName(context.Background(), store.DefaultRealm, "w1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.PingWorker(context.Background(), w1.ID, "2023.01", true); err != nil {
		t.Fatal(err)
	}
	code, body = a.do(t, "GET", "/api/v0.2/workers/w1/", nil)
	if code != 200 || !strings.Contains(compact(body), `"state":"Online"`) ||
		!strings.Contains(compact(body), `"version":"2023.01"`) || !strings.Contains(compact(body), `Z","job_limit"`) {
		t.Errorf("pinged worker: %d %s", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/workers/zz/", nil); code != 404 || compact(body) != `{"detail":"Not found."}` {
		t.Errorf("unknown worker: %d %s", code, body)
	}
	tests := []struct {
		query string
		names string
	}{
		{"?state=Online", "w1"},
		{"?state=Offline", "w2"},
		{"?state__in=1", "w2"},
		{"?health=Active", "w1,w2"},
		{"?hostname__endswith=2", "w2"},
		{"?ordering=state", "w1,w2"},
		{"?ordering=-hostname", "w2,w1"},
		{"?description__contains=lab", "w1"},
	}
	for _, tt := range tests {
		code, body := a.do(t, "GET", "/api/v0.2/workers/"+tt.query, nil)
		_, names, _ := listNames(t, body)
		if code != 200 || strings.Join(names, ",") != tt.names {
			t.Errorf("%s: %d %v, want %s", tt.query, code, names, tt.names)
		}
	}
	if code, body := a.do(t, "GET", "/api/v0.2/workers/?health=Dead", nil); code != 400 ||
		compact(body) != `["Select a valid choice. Dead is not one of the available choices: ('Active', 'Maintenance', 'Retired')"]` {
		t.Errorf("bad health: %d %s", code, body)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/workers/?last_ping__gt=soon", nil); code != 400 || !strings.Contains(body, "not a date") {
		t.Errorf("bad date: %d %s", code, body)
	}
}

func TestRESTDeviceTypes(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	code, body := a.do(t, "GET", "/api/v0.2/devicetypes/qemu/", nil)
	want := `{"name":"qemu","architecture":null,"processor":null,"cpu_model":null,"aliases":[],"bits":null,` +
		`"cores":[],"core_count":null,"description":"QEMU","health_frequency":24,"disable_health_check":false,` +
		`"health_denominator":"hours","display":true}`
	if code != 200 || compact(body) != want {
		t.Errorf("device type: %d %s\nwant %s", code, body, want)
	}
	if code, body := a.do(t, "GET", "/api/v0.2/devicetypes/nope/", nil); code != 404 || compact(body) != `{"detail":"Not found."}` {
		t.Errorf("unknown type: %d %s", code, body)
	}
	tests := []struct{ query, names string }{
		{"", "bbb,qemu"},
		{"?health_denominator=jobs", "bbb"},
		{"?health_frequency=24", "qemu"},
		{"?health_frequency__in=10,24", "bbb,qemu"},
		{"?display=true", "bbb,qemu"},
		{"?display=False", ""},
		{"?name__startswith=q", "qemu"},
		{"?ordering=-name", "qemu,bbb"},
	}
	for _, tt := range tests {
		code, body := a.do(t, "GET", "/api/v0.2/devicetypes/"+tt.query, nil)
		_, names, _ := listNames(t, body)
		if code != 200 || strings.Join(names, ",") != tt.names {
			t.Errorf("%s: %d %v, want %s (%s)", tt.query, code, names, tt.names, body)
		}
	}
	bad := []struct{ query, body string }{
		{"?health_denominator=days", `["Select a valid choice. days is not one of the available choices: ('hours', 'jobs')"]`},
		{"?display=maybe", `["display: \"maybe\" is not a boolean"]`},
		{"?health_frequency=often", `["health_frequency: \"often\" is not an integer"]`},
	}
	for _, tt := range bad {
		if code, body := a.do(t, "GET", "/api/v0.2/devicetypes/"+tt.query, nil); code != 400 || compact(body) != tt.body {
			t.Errorf("%s: %d %s, want %s", tt.query, code, body, tt.body)
		}
	}
}
