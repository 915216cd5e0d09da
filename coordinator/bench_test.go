package coordinator

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRoundTrips measures request/reply round trips per second through
// the coordinator, one connection each as LAVA does, from 100 groups at once:
// every group alternates lava_send (a change) and lava_wait (a read).
func BenchmarkRoundTrips(b *testing.B) {
	for _, mode := range []string{"memory", "state-file"} {
		b.Run(mode, func(b *testing.B) {
			cfg := Config{Logger: testLogger(b)}
			if mode == "state-file" {
				cfg.StateFile = filepath.Join(b.TempDir(), "state.json")
			}
			srv := startServer(b, cfg)
			addr := srv.Addr().String()
			var next atomic.Int64
			b.SetParallelism(50) // 50 x GOMAXPROCS(2) = 100 concurrent groups
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				g := "bench-" + strconv.FormatInt(next.Add(1), 10)
				n := node{"1.0", "r"}
				send := baseFor(n, g).with(req("request", "lava_send", "messageID", "m", "message", req("k", "v"), "group_size", 1))
				wait := baseFor(n, g).with(req("request", "lava_wait", "messageID", "m", "group_size", 1))
				i := 0
				for pb.Next() {
					msg := wait
					if i%2 == 0 {
						msg = send
					}
					i++
					if exchange(b, addr, msg) == "" {
						b.Error("no reply")
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "roundtrips/s")
		})
	}
}

func (o *Object) with(extra *Object) *Object { o.Update(extra); return o }
