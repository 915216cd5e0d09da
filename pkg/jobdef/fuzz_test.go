package jobdef

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary documents to ParseWith: it must never panic,
// must be deterministic, and every error must carry a message.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.yaml")
	seeds = append(seeds, exampleJobs(f)...)
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, false)
	}
	f.Add([]byte(minimalJob), true)
	f.Add([]byte("a: &a [*a, *a]\n"), false)
	f.Add([]byte("<<: {job_name: x}\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, strict bool) {
		job, err := ParseWith(data, Options{Strict: strict})
		if err == nil {
			if job == nil || job.JobName == "" {
				t.Fatalf("valid job not filled: %+v", job)
			}
			return
		}
		list, ok := err.(ErrorList)
		if !ok || len(list) == 0 {
			t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
		}
		for _, e := range list {
			if e.Message == "" {
				t.Fatalf("error without message: %+v", e)
			}
		}
		_, err2 := ParseWith(data, Options{Strict: strict})
		if !reflect.DeepEqual(err, err2) {
			t.Fatalf("not deterministic:\n%v\n%v", err, err2)
		}
	})
}
