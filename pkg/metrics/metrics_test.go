package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEndpoints(t *testing.T) {
	t.Parallel()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lava_test_gauge", Help: "x"})
	g.Set(42)
	notReady := errors.New("database down")
	var ready error
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	done, err := Start(ctx, Config{Listen: "127.0.0.1:0", Gatherer: NewRegistry(g),
		Ready: func(context.Context) error { return ready }, Bound: func(a string) { bound <- a }})
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + <-bound
	if code, body := get(t, addr+"/metrics"); code != 200 || !strings.Contains(body, "lava_test_gauge 42") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d %.200s", code, body)
	}
	if code, body := get(t, addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, addr+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	ready = notReady
	if code, body := get(t, addr+"/readyz"); code != 503 || !strings.Contains(body, "database down") {
		t.Errorf("/readyz when not ready = %d %q", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after cancel", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not stop")
	}
}

func TestStartBadAddressAndDisabled(t *testing.T) {
	t.Parallel()
	if _, err := Start(context.Background(), Config{Listen: "256.0.0.1:x"}); err == nil || !strings.Contains(err.Error(), "metrics listen 256.0.0.1:x") {
		t.Errorf("bad address: %v", err)
	}
	done, err := Start(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, open := <-done; open {
		t.Error("disabled endpoint: channel not closed")
	}
}

func TestWorkerMetricsJobEnded(t *testing.T) {
	t.Parallel()
	m := NewWorkerMetrics()
	dir := t.TempDir()
	r := RunReport{ConsoleBytes: 100, ConsoleLines: 4, Actions: []ActionTiming{
		{Name: "deploy-images", Seconds: 2, Result: "pass"},
		{Name: "Made Up <script>", Seconds: 1, Result: "weird"},
		{Name: "boot", Seconds: -1, Result: "fail"},
	}}
	if err := WriteRunReport(dir, r); err != nil {
		t.Fatal(err)
	}
	if err := m.JobEnded("pass", dir); err != nil {
		t.Fatal(err)
	}
	if err := m.JobEnded("something", t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing report: %v", err)
	}
	if v := counterValue(t, m.consoleBytes); v != 100 {
		t.Errorf("console bytes %v", v)
	}
	if v := counterValue(t, m.jobs.WithLabelValues("fail")); v != 1 {
		t.Errorf("jobs fail %v (an unknown result counts as fail)", v)
	}
	if n := seriesCount(t, m.actionDuration); n != 2 {
		t.Errorf("%d action series, want deploy-images/pass and other/fail", n)
	}
	bad := t.TempDir()
	for _, content := range []string{"{", `{"console_bytes": -5}`} {
		if err := os.WriteFile(filepath.Join(bad, RunFile), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRunReport(bad); err == nil || !strings.Contains(err.Error(), RunFile) {
			t.Errorf("report %q: %v", content, err)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func seriesCount(t *testing.T, c prometheus.Collector) int {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
	}
	return n
}
