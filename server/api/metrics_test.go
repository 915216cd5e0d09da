package api

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// scrape parses a Prometheus text page into "name{labels}" -> value.
func scrape(t *testing.T, page string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestMetricsHealthAndReady(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	a.insertJob(t, "", "Submitted", "tok1", "")
	a.insertJob(t, "qemu-01", "Running", "tok2", "")
	for _, p := range []string{"/api/v0.2/devices/", "/api/v0.2/devices/qemu-01/", "/api/v0.2/devices/nope/", "/no/such/route"} {
		a.do(t, http.MethodGet, p, nil)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := a.do(t, http.MethodGet, p, nil); code != http.StatusOK {
			t.Errorf("GET %s = %d %s", p, code, body)
		}
	}
	code, page := a.do(t, http.MethodGet, "/metrics", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d %s", code, page)
	}
	m := scrape(t, page)
	want := map[string]float64{ // every lab figure by realm
		`lava_database_up`: 1,
		`lava_queue_jobs{device_type="qemu",realm="default"}`:                                1,
		`lava_jobs{health="Unknown",realm="default",state="Submitted"}`:                      1,
		`lava_jobs{health="Unknown",realm="default",state="Running"}`:                        1,
		`lava_devices{device_type="qemu",health="Good",realm="default",state="Idle"}`:        1,
		`lava_devices{device_type="qemu",health="Maintenance",realm="default",state="Idle"}`: 1,
		`lava_devices{device_type="bbb",health="Retired",realm="default",state="Idle"}`:      1,
		`lava_workers{health="Active",realm="default",state="Offline"}`:                      2,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	// The HTTP metrics are shared by the package's parallel tests: at least.
	for _, k := range []string{
		`lava_http_requests_total{code="200",method="GET",route="/api/v0.2/devices"}`,
		`lava_http_requests_total{code="200",method="GET",route="/api/v0.2/devices/{hostname}"}`,
		`lava_http_requests_total{code="404",method="GET",route="/api/v0.2/devices/{hostname}"}`,
		`lava_http_requests_total{code="404",method="GET",route="unmatched"}`,
		`lava_http_request_duration_seconds_count{method="GET",route="/api/v0.2/devices"}`,
	} {
		if m[k] < 1 {
			t.Errorf("%s = %v, want >= 1", k, m[k])
		}
	}
	if age := m[`lava_queue_oldest_seconds{device_type="qemu",realm="default"}`]; age < 0 || age > 60 {
		t.Errorf("queue age = %v s", age)
	}
	for k := range m {
		if strings.Contains(k, "/no/such/route") || strings.Contains(k, `"/api/v0.2/devices/nope/"`) {
			t.Errorf("raw path leaked into a label: %s", k)
		}
	}
}

func TestReadyzFailsWithoutDatabase(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, false)
	a.st.Close()
	if code, body := a.do(t, http.MethodGet, "/readyz", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready") {
		t.Errorf("GET /readyz on a closed pool = %d %q", code, body)
	}
	if code, _ := a.do(t, http.MethodGet, "/healthz", nil); code != http.StatusOK {
		t.Errorf("GET /healthz = %d", code)
	}
}
