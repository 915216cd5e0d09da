package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/server/store"
	"golava/worker/daemon"
)

// jobStates follows /ws/ and sends the id of every job reaching state.
func jobStates(ctx context.Context, b *testing.B, base, state string) <-chan int64 {
	b.Helper()
	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/ws/", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ws.CloseNow() })
	ws.SetReadLimit(1 << 20)
	out := make(chan int64, 64)
	go func() {
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var parts []string
			if json.Unmarshal(msg, &parts) != nil || len(parts) != 5 || !strings.HasSuffix(parts[0], ".testjob") {
				continue
			}
			var d struct {
				Job   int64  `json:"job"`
				State string `json:"state"`
			}
			if json.Unmarshal([]byte(parts[4]), &d) == nil && d.State == state {
				select {
				case out <- d.Job:
				default: // the benchmark waits for one job at a time
				}
			}
		}
	}()
	return out
}

// BenchmarkSubmitToRunning measures, one job at a time on idle devices,
// submit -> Running with golava's lava-worker in the loop: the scheduler
// assigns, the worker is woken by the WebSocket event, fetches the job,
// starts lava-run (a stand-in that waits, so only the protocol is timed)
// and reports it running.
func BenchmarkSubmitToRunning(b *testing.B) {
	const samples = 100
	s := newBenchServer(b, 0, true)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, workerToken, err := s.st.CreateWorker(ctx, store.DefaultRealm, "bw", "bench worker")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.st.Pool().Exec(ctx, `INSERT INTO devices (realm_id, hostname, device_type_id, worker_id, health, dictionary)
SELECT 1, 'bd' || g, (SELECT id FROM device_types WHERE name = 'dut-sim'), (SELECT id FROM workers WHERE hostname = 'bw'),
    'Good', '{% extends ''dut-sim.jinja2'' %}' FROM generate_series(1, $1) g`, samples); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	lavaRun := filepath.Join(dir, "lava-run")
	if err := os.WriteFile(lavaRun, []byte("#!/bin/sh\nexec sleep 30\n"), 0o755); err != nil {
		b.Fatal(err)
	}
	wctx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- daemon.Run(wctx, daemon.Config{
			Name: "bw", URL: s.base, Token: workerToken, WorkerDir: filepath.Join(dir, "worker"),
			PingInterval: 20 * time.Second, HTTPTimeout: 30 * time.Second, LavaRun: lavaRun,
			JobLogInterval: 1, StopJobsOnExit: true, StopGrace: time.Second,
		}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stopWorker(); <-workerDone }()
	running := jobStates(ctx, b, s.base, "Running")
	body, _ := json.Marshal(map[string]string{"definition": benchJob})
	for b.Loop() {
		lat := s.submitAndWait(b, body, samples, running, 30*time.Second)
		b.ReportMetric(ms(percentile(lat, 0.5)), "p50-ms")
		b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
		fmt.Printf("submit -> Running with golava's lava-worker: p50 %.2f ms, p99 %.2f ms (%d jobs)\n",
			ms(percentile(lat, 0.5)), ms(percentile(lat, 0.99)), len(lat))
	}
}
