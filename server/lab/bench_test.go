package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"golava/server/api"
	"golava/server/publisher"
	"golava/server/scheduler"
	"golava/server/store"
	"golava/server/store/storetest"
)

// benchServer runs the API, the publisher and the scheduler in-process on a
// fresh database with an online worker and n idle, healthy dut-sim devices.
type benchServer struct {
	base  string
	token string
	st    *store.Store
}

func newBenchServer(b *testing.B, devices int, withScheduler bool) *benchServer {
	b.Helper()
	st := storetest.New(b)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() { cancel(); wg.Wait() })
	token := benchFixtures(b, st, devices)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := publisher.NewHub(st, logger, publisher.HubConfig{})
	srv := api.New(st, logger, api.Config{WS: hub.WSHandler()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	httpSrv := &http.Server{Handler: srv.Handler()}
	run := func(fn func(context.Context) error) {
		wg.Add(1)
		go func() { defer wg.Done(); _ = fn(ctx) }()
	}
	run(hub.Run)
	run(func(ctx context.Context) error {
		go func() { <-ctx.Done(); httpSrv.Close() }()
		return httpSrv.Serve(ln)
	})
	if withScheduler {
		run(scheduler.New(st, logger, scheduler.Config{RealmID: store.DefaultRealm}).Run)
	}
	return &benchServer{base: "http://" + ln.Addr().String(), token: token, st: st}
}

// benchFixtures inserts what a lab has after set-up and returns an API token.
func benchFixtures(b *testing.B, st *store.Store, devices int) string {
	b.Helper()
	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.NewUser{Username: "bench", IsSuperuser: true})
	if err != nil {
		b.Fatal(err)
	}
	token, _, err := st.CreateToken(ctx, u.ID, store.DefaultRealm, "bench")
	if err != nil {
		b.Fatal(err)
	}
	pool := st.Pool()
	mustExec := func(sql string, args ...any) {
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	mustExec(`INSERT INTO workers (realm_id, hostname, state, health, last_ping) VALUES (1, 'w1', 'Online', 'Active', now() + interval '1 hour')`)
	mustExec(`INSERT INTO device_types (realm_id, name) VALUES (1, 'dut-sim')`)
	mustExec(`INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health)
		SELECT 1, 'd' || g, (SELECT id FROM device_types WHERE name = 'dut-sim'), (SELECT id FROM workers WHERE hostname = 'w1'), 'Good'
		FROM generate_series(1, $1) g`, devices)
	return token
}

const benchJob = `device_type: dut-sim
job_name: bench
visibility: public
timeouts: {job: {minutes: 5}}
actions:
- boot: {method: minimal, prompts: ['# ']}
`

func (s *benchServer) submitOnce(c *http.Client, body []byte) (int64, error) {
	req, _ := http.NewRequest("POST", s.base+"/api/v0.2/jobs/", bytes.NewReader(body))
	req.Header.Set("Authorization", "Token "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("submit: %d %s", resp.StatusCode, rb)
	}
	var r struct {
		JobIDs []int64 `json:"job_ids"`
	}
	if err := json.Unmarshal(rb, &r); err != nil || len(r.JobIDs) == 0 {
		return 0, fmt.Errorf("submit reply %s: %v", rb, err)
	}
	return r.JobIDs[0], nil
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkRESTSubmit submits jobs over REST with 1 and 8 clients.
func BenchmarkRESTSubmit(b *testing.B) {
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s := newBenchServer(b, 1, false)
			body, _ := json.Marshal(map[string]string{"definition": benchJob})
			const perClient = 500
			for b.Loop() {
				lat := make([][]time.Duration, clients)
				var wg sync.WaitGroup
				start := time.Now()
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
						for range perClient {
							t0 := time.Now()
							if _, err := s.submitOnce(hc, body); err != nil {
								b.Error(err)
								return
							}
							lat[c] = append(lat[c], time.Since(t0))
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				all := slices.Concat(lat...)
				rate := float64(len(all)) / elapsed.Seconds()
				b.ReportMetric(rate, "jobs/s")
				b.ReportMetric(ms(percentile(all, 0.5)), "p50-ms")
				b.ReportMetric(ms(percentile(all, 0.99)), "p99-ms")
				fmt.Printf("REST submit, %d client(s): %.0f jobs/s, p50 %.2f ms, p99 %.2f ms (%d jobs)\n",
					clients, rate, ms(percentile(all, 0.5)), ms(percentile(all, 0.99)), len(all))
			}
		})
	}
}

// BenchmarkSubmitToScheduled measures, one job at a time on idle devices,
// the time from sending the submission to the Scheduled event on /ws/.
func BenchmarkSubmitToScheduled(b *testing.B) {
	const samples = 200
	s := newBenchServer(b, samples, true)
	body, _ := json.Marshal(map[string]string{"definition": benchJob})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	scheduled := jobStates(ctx, b, s.base, "Scheduled")
	for b.Loop() {
		lat := s.submitAndWait(b, body, samples, scheduled, 10*time.Second)
		b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
		b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
		fmt.Printf("submit -> Scheduled on an idle device: p50 %.2f ms, p99 %.2f ms (%d jobs)\n",
			ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), len(lat))
	}
}

// submitAndWait submits n jobs one at a time and returns, for each, the
// time from sending it to its id arriving on reached.
func (s *benchServer) submitAndWait(b *testing.B, body []byte, n int, reached <-chan int64, timeout time.Duration) []time.Duration {
	b.Helper()
	hc := &http.Client{}
	lat := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		id, err := s.submitOnce(hc, body)
		if err != nil {
			b.Fatal(err)
		}
		for got := int64(0); got != id; {
			select {
			case got = <-reached:
			case <-time.After(timeout):
				b.Fatalf("job %d did not reach the state within %s", id, timeout)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	return lat
}

// BenchmarkDutSimJobEndToEnd runs the smoke job (two test cases) on a dut-sim
// board through lava-lab and reports submit -> Finished.
func BenchmarkDutSimJobEndToEnd(b *testing.B) {
	l := startLab(b, 1, storetest.URL(b))
	def := smokeJob(b)
	for b.Loop() {
		var runs []time.Duration
		for range 3 {
			t0 := time.Now()
			id := l.submit(def)
			j := l.waitFinished(id, 3*time.Minute)
			if j.Health != "Complete" {
				b.Fatalf("job %d: %s", id, j.Health)
			}
			runs = append(runs, time.Since(t0))
		}
		med := percentile(runs, 0.5)
		b.ReportMetric(med.Seconds(), "s/job")
		fmt.Printf("dut-sim one-test job end to end: median %.2f s over %d runs (min %.2f s)\n",
			med.Seconds(), len(runs), slices.Min(runs).Seconds())
	}
}
