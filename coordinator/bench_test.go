package coordinator

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkRoundTrips measures request/reply round trips per second through
// the coordinator, one connection each as LAVA does, from 100 groups at once:
// every group alternates lava_send (a change) and lava_wait (a read). One
// iteration is 20 round trips of each of the 100 groups, so that even
// -benchtime 1x measures 2,000 of them.
func BenchmarkRoundTrips(b *testing.B) {
	const groups, perGroup = 100, 20
	for _, mode := range []string{"memory", "state-file"} {
		b.Run(mode, func(b *testing.B) {
			cfg := Config{Logger: testLogger(b)}
			if mode == "state-file" {
				cfg.StateFile = filepath.Join(b.TempDir(), "state.json")
			}
			srv := startServer(b, cfg)
			addr := srv.Addr().String()
			var lat []time.Duration
			var mu sync.Mutex
			start := time.Now()
			for range b.N {
				var wg sync.WaitGroup
				for g := range groups {
					wg.Go(func() {
						name := "bench-" + strconv.Itoa(g)
						n := node{"1.0", "r"}
						send := baseFor(n, name).with(req("request", "lava_send", "messageID", "m", "message", req("k", "v"), "group_size", 1))
						wait := baseFor(n, name).with(req("request", "lava_wait", "messageID", "m", "group_size", 1))
						mine := make([]time.Duration, 0, perGroup)
						for i := range perGroup {
							msg := wait
							if i%2 == 0 {
								msg = send
							}
							t0 := time.Now()
							if exchange(b, addr, msg) == "" {
								b.Error("no reply")
								return
							}
							mine = append(mine, time.Since(t0))
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
				}
				wg.Wait()
			}
			elapsed := time.Since(start)
			rate := float64(len(lat)) / elapsed.Seconds()
			slices.Sort(lat)
			if len(lat) > 0 {
				fmt.Printf("coordinator %s: %.0f round trips/s with %d concurrent groups, p50 %s, p99 %s\n",
					mode, rate, groups, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond))
			}
			b.ReportMetric(rate, "roundtrips/s")
		})
	}
}

func (o *Object) with(extra *Object) *Object { o.Update(extra); return o }
