package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/worker/run/runtest"
)

const remoteDefinition = `metadata: {format: Lava-Test Test Definition 1.0, name: remote}
params: {WHO: default}
run:
  steps:
  - ./helper.sh "$WHO"
`

// tarball writes a tar.gz of files and returns its path.
func tarball(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tests.tar.gz")
	write(t, p, buf.String())
	return p
}

// TestRunDefinitionSources runs git and url test definitions on the fake
// board, and checks the errors of unusable sources.
func TestRunDefinitionSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	helper := "#!/bin/sh\nlava-test-case \"helper-$1\" --result pass\n"
	repo, commit, err := runtest.GitRepo(filepath.Join(dir, "repo"), map[string]string{"defs/remote.yaml": remoteDefinition, "helper.sh": helper})
	if err != nil {
		t.Fatal(err)
	}
	tgz := tarball(t, dir, map[string]string{"defs/remote.yaml": remoteDefinition, "helper.sh": helper})
	evil := tarball(t, t.TempDir(), map[string]string{"../escape.sh": helper})
	defs := func(from, repository, path string) string {
		extra := ""
		if from == "url" {
			extra = ", compression: gz"
		}
		return fmt.Sprintf(`    definitions:
    - {from: %s, repository: '%s', path: %s, name: remote, params: {WHO: %s}%s}
`, from, repository, path, from, extra)
	}
	tests := []struct {
		name, defs        string
		result, wantType  string
		wantMsg, wantCase string
	}{
		{"git", defs("git", repo, "defs/remote.yaml"), "pass", "", "", "0_remote/helper-git"},
		{"url", defs("url", "file://"+tgz, "defs/remote.yaml"), "pass", "", "", "0_remote/helper-url"},
		{"git missing repository", defs("git", "file://"+filepath.Join(dir, "nope"), "defs/remote.yaml"), "fail", TypeInfrastructure, "Unable to get test definition from git", ""},
		{"git missing path", defs("git", repo, "defs/missing.yaml"), "fail", TypeJob, "Unable to open test definition 'defs/missing.yaml'", ""},
		{"url leaving its folder", defs("url", "file://"+evil, "defs/remote.yaml"), "fail", TypeJob, "leaves the folder", ""},
		{"path leaving the repository", defs("git", repo, "../x.yaml"), "fail", TypeJob, "must be relative to the repository", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, "ok")
			f.job(t, 120, 30, "")
			data, _ := os.ReadFile(f.cfg.JobPath)
			job := string(data)
			write(t, f.cfg.JobPath, job[:strings.Index(job, "    definitions:")]+tt.defs)
			out := Run(context.Background(), f.cfg)
			recs := f.out.records(t)
			if out.Result != tt.result || out.ErrorType != tt.wantType || !strings.Contains(out.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v\n%s", out, dump(recs))
			}
			res := results(recs)
			if tt.wantCase != "" && (res[tt.wantCase] == nil || res[tt.wantCase]["result"] != "pass") {
				t.Errorf("%s = %v\n%s", tt.wantCase, res[tt.wantCase], dump(recs))
			}
			if tt.name == "git" && res["lava/0_remote"]["commit_id"] != commit {
				t.Errorf("lava/0_remote = %v", res["lava/0_remote"])
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.sh")); err == nil {
		t.Error("a url definition wrote outside its folder")
	}
}
