package jobdef

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// refDir is the unpacked LAVA 2023.01 Debian packages: $LAVA_REF_DIR, else
// <repo>/.cache/lava-ref (filled by `make ref`).
func refDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("LAVA_REF_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, ".cache", "lava-ref")
				break
			}
			if filepath.Dir(d) == d {
				t.Fatalf("no go.mod above %s", wd)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "usr")); err != nil {
		t.Fatalf("LAVA reference packages not found in %s (set LAVA_REF_DIR or run `make ref`): %v", dir, err)
	}
	return dir
}

// exampleJobs are the example test jobs shipped in lava-server-doc.
func exampleJobs(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(refDir(t), "usr/share/doc/lava-server-doc/html/v2/examples/test-jobs/*.yaml"))
	if err != nil || len(files) < 40 {
		t.Fatalf("expected the ~43 example jobs of lava-server-doc, found %d (%v): run `make ref`", len(files), err)
	}
	return files
}

// strictFailures are the example jobs lava-common rejects with strict=True
// (checked against lava-common 2023.01 itself), with the first path it names.
var strictFailures = map[string]string{
	"bbb-lxc-ssh-guest.yaml":              "actions[3].deploy.connection",
	"hi6220-hikey-bl.yaml":                "actions[2].deploy.connection",
	"mustang-ssh-guest.yaml":              "actions[1].deploy.connection",
	"namespace-connections-example1.yaml": "actions[2].boot.connection",
	"qemu-debian-installer.yaml":          "actions[1].boot.connection",
	"x15-recovery.yaml":                   "actions[2].deploy.connection",
}

func TestExampleJobs(t *testing.T) {
	t.Parallel()
	for _, f := range exampleJobs(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			job, err := Parse(data)
			if err != nil {
				t.Fatalf("not strict: %v", err)
			}
			if job.JobName == "" || len(job.Actions) == 0 {
				t.Errorf("job not filled: %+v", job)
			}
			if _, err := ParseWith(data, Options{Submission: true}); err != nil {
				t.Errorf("submission: %v", err)
			}
			_, err = ParseWith(data, Options{Strict: true})
			want, bad := strictFailures[name]
			switch {
			case !bad && err != nil:
				t.Errorf("strict: %v", err)
			case bad && err == nil:
				t.Errorf("strict: no error, want one at %s", want)
			case bad && !strings.Contains(err.Error(), want+": extra key not allowed"):
				t.Errorf("strict: %v, want an error at %s", err, want)
			}
		})
	}
}
