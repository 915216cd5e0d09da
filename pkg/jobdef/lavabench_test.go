package jobdef

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkValidateCorpus validates the example corpus of lava-server-doc
// with golava and with the real lava-common (yaml load + validate, timed
// inside Python so its start-up is not counted) and prints both rates and
// their ratio. Acceptance wants golava at least 20× faster; it is printed,
// not asserted (timings on a shared machine are noisy).
func BenchmarkValidateCorpus(b *testing.B) {
	examples := exampleCorpus(b)
	docs := make([]string, len(examples))
	for i, e := range examples {
		docs[i] = string(e.doc)
	}
	py := startLavaPy(b, filepath.Join("testdata", "lava", "validate.py"))
	for range b.N {
		// Best of three alternating runs: the machine is shared, and the
		// best run is each side's own speed.
		var ours, theirs float64
		for range 3 {
			var pyRes struct {
				Count   int     `json:"count"`
				Seconds float64 `json:"seconds"`
			}
			if err := py.call(map[string]any{"bench": docs, "rounds": 2}, &pyRes); err != nil {
				b.Fatal(err)
			}
			theirs = max(theirs, float64(pyRes.Count)/pyRes.Seconds)
			count, start := 0, time.Now()
			for time.Since(start) < 500*time.Millisecond || count < 4*len(examples) {
				for _, e := range examples {
					Validate(e.doc, Options{})
					count++
				}
			}
			ours = max(ours, float64(count)/time.Since(start).Seconds())
		}
		fmt.Printf("validate example corpus (%d jobs, best of 3): golava %.0f jobs/s, lava-common %.0f jobs/s, ratio %.1fx\n",
			len(examples), ours, theirs, ours/theirs)
		b.ReportMetric(ours, "golava-jobs/s")
		b.ReportMetric(theirs, "lava-jobs/s")
	}
}
