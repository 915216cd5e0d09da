package jobdef

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/errors")

// TestGoldenErrors parses each testdata/errors/*.yaml (strictly when its
// name contains ".strict.", with the submission checks when ".submit.")
// and compares every error, one per line, with
// the .golden file beside it.
func TestGoldenErrors(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/errors/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test documents: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			strict := strings.Contains(filepath.Base(f), ".strict.")
			submit := strings.Contains(filepath.Base(f), ".submit.")
			var got strings.Builder
			_, perr := ParseWith(data, Options{Strict: strict, Submission: submit})
			if perr == nil {
				t.Fatalf("%s: no error", f)
			}
			for _, e := range perr.(ErrorList) {
				got.WriteString(e.Error())
				got.WriteByte('\n')
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenErrors -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("errors of %s:\n%s\nwant:\n%s", f, got.String(), want)
			}
		})
	}
}
