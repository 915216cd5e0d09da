package daemon

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golava/pkg/workerapi"
)

// TestJobFileModes: job.yaml, which holds the job's secrets in clear, is
// written 0600 even over a 0644 file an earlier run left, and scrubJob
// removes it (twice is fine: a report may be retried).
func TestJobFileModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fileJob), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	jc := workerapi.JobConfig{Definition: "secrets: {K: v4lue}\n", Device: "d: 1\n", Dispatcher: "{}\n"}
	if err := writeJobFiles(dir, jc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{fileJob: 0o600, fileDevice: 0o644, fileDispatcher: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %o", name, fi, err, want)
		}
	}
	for range 2 {
		if err := scrubJob(dir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, fileJob)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("job.yaml still there after scrubJob: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, fileDevice)); err != nil {
		t.Fatalf("scrubJob removed more than job.yaml: %v", err)
	}
}
