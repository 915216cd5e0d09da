package store_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// Each op of these benchmarks is a fixed workload, so that `make bench`
// (-benchtime 1x) still measures a rate rather than one call.
const (
	submitsPerOp = 500
	uploadsPerOp = 64
)

// BenchmarkSubmitJob measures submission transactions (lookups, insert,
// event, NOTIFY) on a real database, from one client.
func BenchmarkSubmitJob(b *testing.B) {
	bb := setupJobs(b)
	job, err := jobdef.Parse([]byte(testJob))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for range submitsPerOp {
			if _, err := bb.st.SubmitJob(bb.ctx, store.DefaultRealm, bb.alice, testJob, job); err != nil {
				b.Fatal(err)
			}
		}
	}
	rate := float64(b.N*submitsPerOp) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "jobs/s")
	fmt.Printf("store SubmitJob, 1 client: %.0f jobs/s\n", rate)
}

// BenchmarkAppendLog measures log ingest in uploads of 1000 records of
// about 120 bytes, as lava-run sends them.
func BenchmarkAppendLog(b *testing.B) {
	bb := setupJobs(b)
	ids, err := bb.st.SubmitJob(bb.ctx, store.DefaultRealm, bb.alice, testJob, mustParse(b, testJob))
	if err != nil {
		b.Fatal(err)
	}
	batch := recs(0, 1000, strings.Repeat("z", 60))
	size := 0
	for _, r := range batch {
		size += len(r) + 1
	}
	b.SetBytes(int64(size * uploadsPerOp))
	index := int64(0)
	for b.Loop() {
		for range uploadsPerOp {
			if _, err := bb.st.AppendLog(bb.ctx, ids[0], index, batch); err != nil {
				b.Fatal(err)
			}
			index += int64(len(batch))
		}
	}
	fmt.Printf("store AppendLog: %.1f MB/s in uploads of 1000 records\n",
		float64(b.N*size*uploadsPerOp)/b.Elapsed().Seconds()/1e6)
}

func mustParse(b *testing.B, def string) *jobdef.Job {
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		b.Fatal(err)
	}
	return job
}

// BenchmarkSubmitJobParallel is BenchmarkSubmitJob from 8 clients.
func BenchmarkSubmitJobParallel(b *testing.B) {
	bb := setupJobs(b)
	job := mustParse(b, testJob)
	const clients = 8
	for b.Loop() {
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range submitsPerOp / clients {
					if _, err := bb.st.SubmitJob(bb.ctx, store.DefaultRealm, bb.alice, testJob, job); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	rate := float64(b.N*(submitsPerOp/clients)*clients) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "jobs/s")
	fmt.Printf("store SubmitJob, %d clients: %.0f jobs/s\n", clients, rate)
}
