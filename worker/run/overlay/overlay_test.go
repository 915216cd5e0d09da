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

func sample(dir string) Config {
	return Config{
		ResultsDir: dir, JobID: "12",
		Environment: map[string]string{"LAVA_JOB_ID": "12"},
		Stages: []Stage{{Index: 0, Definitions: []Definition{
			{Name: "smoke", Index: 0, UUID: "u-0", Params: map[string]string{"GREETING": "it's me", "bad-name": "x"},
				RunSteps: []string{
					"lava-test-case pass-case --result pass",
					"lava-test-case fail-case --result fail",
					"lava-test-case speed --result pass --measurement 1.5 --units s",
					"lava-test-set start group",
					"lava-test-case in-set --shell test 1 -eq 1",
					"test \"$GREETING\" = \"it's me\" && lava-test-case greeting --result pass",
					"lava-test-set stop",
					"lava-test-reference ref --result pass --reference https://example.com/x",
				}},
			{Name: "second", Index: 1, UUID: "u-1", InstallSteps: []string{"echo installing"}, RunSteps: []string{"echo hello"}},
		}}},
	}
}

func TestBuildContents(t *testing.T) {
	t.Parallel()
	data, err := Build(sample("/lava-12"))
	if err != nil {
		t.Fatal(err)
	}
	files := untar(t, data)
	for _, want := range []string{
		"lava-12/bin/lava-test-case", "lava-12/bin/lava-test-runner", "lava-12/bin/lava-common-functions",
		"lava-12/environment", "lava-12/0/lava-test-runner.conf",
		"lava-12/0/tests/0_smoke/run.sh", "lava-12/0/tests/0_smoke/uuid", "lava-12/0/tests/1_second/install.sh",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	if _, ok := files["lava-12/0/tests/0_smoke/install.sh"]; ok {
		t.Error("install.sh without install steps")
	}
	conf := files["lava-12/0/lava-test-runner.conf"]
	if conf != "/lava-12/0/tests/0_smoke\n/lava-12/0/tests/1_second\n" {
		t.Errorf("runner conf = %q", conf)
	}
	run := files["lava-12/0/tests/0_smoke/run.sh"]
	if strings.Contains(run, "bad-name") || !strings.Contains(run, `export GREETING='it'\''s me'`) {
		t.Errorf("run.sh params:\n%s", run)
	}
	// The literal marker must never appear in what we send: the console
	// echo of a command could otherwise look like a signal.
	for name, body := range files {
		if strings.Contains(body, "<LAVA_SIGNAL_") || strings.Contains(body, "<LAVA_TEST_RUNNER") {
			t.Errorf("%s contains a literal marker", name)
		}
	}
	again, _ := Build(sample("/lava-12"))
	if !bytes.Equal(data, again) {
		t.Error("Build is not deterministic")
	}
}

func TestBuildRejects(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"", "relative", "/"} {
		if _, err := Build(Config{ResultsDir: dir}); err == nil {
			t.Errorf("results dir %q accepted", dir)
		}
	}
	cfg := sample("/lava-1")
	cfg.Stages[0].Definitions[0].Name = "a b"
	if _, err := Build(cfg); err == nil {
		t.Error("name with blank accepted")
	}
}

// TestScriptsRun runs the overlay with the host's /bin/sh, the same shell a
// DUT has, and checks the signals the helpers print.
func TestScriptsRun(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	results := filepath.Join(root, "lava-12")
	data, err := Build(sample(results))
	if err != nil {
		t.Fatal(err)
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
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "<LAVA_") {
			got = append(got, l)
		}
	}
	want := []string{
		"<LAVA_SIGNAL_STARTRUN 0_smoke u-0>",
		"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=pass-case RESULT=pass>",
		"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=fail-case RESULT=fail>",
		"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=speed RESULT=pass MEASUREMENT=1.5 UNITS=s>",
		"<LAVA_SIGNAL_TESTSET START group>",
		"<LAVA_SIGNAL_STARTTC in-set>",
		"<LAVA_SIGNAL_ENDTC in-set>",
		"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=in-set RESULT=pass>",
		"<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=greeting RESULT=pass>",
		"<LAVA_SIGNAL_TESTSET STOP>",
		"<LAVA_SIGNAL_TESTREFERENCE ref pass https://example.com/x>",
		"<LAVA_SIGNAL_ENDRUN 0_smoke u-0>",
		"<LAVA_SIGNAL_STARTRUN 1_second u-1>",
		"<LAVA_SIGNAL_ENDRUN 1_second u-1>",
		"<LAVA_TEST_RUNNER EXIT>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("signals:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
}

func untar(t *testing.T, data []byte) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[h.Name] = string(b)
		}
	}
}
