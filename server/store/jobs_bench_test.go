package store_test

import (
	"strings"
	"testing"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// BenchmarkSubmitJob measures one submission transaction (lookups, insert,
// event, NOTIFY) on a real database.
func BenchmarkSubmitJob(b *testing.B) {
	bb := setupJobs(b)
	job, err := jobdef.Parse([]byte(testJob))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bb.st.SubmitJob(bb.ctx, store.DefaultRealm, bb.alice, testJob, job); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
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
	b.SetBytes(int64(size))
	index := int64(0)
	for b.Loop() {
		if _, err := bb.st.AppendLog(bb.ctx, ids[0], index, batch); err != nil {
			b.Fatal(err)
		}
		index += int64(len(batch))
	}
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
	b.SetParallelism(4) // 2 cores x 4 = 8 clients
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := bb.st.SubmitJob(bb.ctx, store.DefaultRealm, bb.alice, testJob, job); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
