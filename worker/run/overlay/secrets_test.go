package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestJobSecretsExported: the job's secrets reach the install and run
// steps as environment variables, from a 0600 file sourced before the
// shell trace starts; the worker environment in the secrets file does not
// (its PATH would hide the helpers).
func TestJobSecretsExported(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	results := filepath.Join(root, "lava-12")
	cfg := Config{ResultsDir: results, JobID: "12",
		Secrets:    map[string]string{"PATH": "/nowhere", "API_TOKEN": "it's s3cr3t"},
		JobSecrets: map[string]string{"API_TOKEN": "it's s3cr3t"},
		Stages: []Stage{{Index: 0, Definitions: []Definition{{Name: "s", UUID: "u-0",
			// A child shell: exported, not only set in run.sh. The length
			// test keeps the value out of the step and so of the trace.
			InstallSteps: []string{`sh -c 'test "${#API_TOKEN}" -eq 11'`},
			RunSteps:     []string{`sh -c 'test "${#API_TOKEN}" -eq 11' && lava-test-case secret-env --result pass`},
		}}}},
	}
	data, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimPrefix(results, "/")
	modes := tarModes(t, data)
	if modes[rel+"/job-secrets"] != 0o600 || modes[rel+"/secrets"] != 0o600 {
		t.Fatalf("modes = %o %o, want 0600", modes[rel+"/job-secrets"], modes[rel+"/secrets"])
	}
	files := untar(t, data)
	run := files[rel+"/0/tests/0_s/run.sh"]
	if i, j := strings.Index(run, "/job-secrets"), strings.Index(run, "set -x"); i < 0 || i > j {
		t.Fatalf("run.sh does not source job-secrets before set -x:\n%s", run)
	}
	tarCmd := exec.Command("tar", "-C", "/", "-xzf", "-")
	tarCmd.Stdin = bytes.NewReader(data)
	if out, err := tarCmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	cmd := exec.Command("/bin/sh", "-c", Config{ResultsDir: results}.RunnerCommand(0))
	cmd.Env = append(os.Environ(), "SHELL=/bin/sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runner: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=secret-env RESULT=pass>") || strings.Contains(string(out), "INSTALL_FAIL") {
		t.Fatalf("the steps did not get the secret:\n%s", out)
	}
	if strings.Contains(string(out), "s3cr3t") {
		t.Fatalf("the shell trace printed the secret:\n%s", out)
	}
}

func tarModes(t *testing.T, data []byte) map[string]int64 {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	modes := map[string]int64{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return modes
		}
		if err != nil {
			t.Fatal(err)
		}
		modes[h.Name] = h.Mode
	}
}
