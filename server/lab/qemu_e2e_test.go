package lab_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/server/store/storetest"
	"golava/worker/run/runtest"
)

type storedCase struct {
	Name        string `json:"name"`
	Result      string `json:"result"`
	Metadata    string `json:"metadata"`
	Measurement any    `json:"measurement"`
	Unit        string `json:"unit"`
}

// TestLabQemu runs a real boot through the whole lab: the Debian kernel and
// a busybox initramfs built now, on the lab's qemu-01 board, with a git and
// an inline test definition; every result is stored.
func TestLabQemu(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatalf("qemu-system-x86_64 is required (scripts/install-deps.sh test): %v", err)
	}
	fx, err := runtest.NewQemuFixture(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := startLab(t, 1, storetest.URL(t))
	id := l.submit(fx.Job("qemu", 10))
	j := l.waitFinished(id, 8*time.Minute)
	logs := l.logs(id)
	if j.Health != "Complete" || j.ActualDevice == nil || *j.ActualDevice != "qemu-01" {
		t.Fatalf("job %+v\n%s", j, tail(logs, 60))
	}
	var page struct {
		Results []storedCase `json:"results"`
	}
	l.getJSON(fmt.Sprintf("/api/v0.2/jobs/%d/tests/?limit=1000", id), &page)
	got := map[string]storedCase{}
	for _, c := range page.Results {
		var meta struct {
			Definition string `yaml:"definition"`
		}
		if err := yaml.Unmarshal([]byte(c.Metadata), &meta); err != nil {
			t.Fatalf("metadata of %s: %v", c.Name, err)
		}
		got[meta.Definition+"/"+c.Name] = c
	}
	for k, want := range runtest.QemuResults {
		if c, ok := got[k]; !ok || c.Result != want {
			t.Errorf("stored result %s = %+v, want %s (have %v)", k, c, want, caseKeys(got))
		}
	}
	if c := got["1_inline-smoke/mem-total"]; c.Measurement == nil || c.Unit != "kB" {
		t.Errorf("measurement not stored: %+v", c)
	}
	if !strings.Contains(logs, "-accel tcg") {
		t.Error("the log does not show the TCG boot command")
	}
}

func caseKeys(m map[string]storedCase) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
