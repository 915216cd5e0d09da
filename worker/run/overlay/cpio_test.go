package overlay

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCPIO(t *testing.T) {
	t.Parallel()
	tgz, err := Build(Config{ResultsDir: "/lava-3", JobID: "3", Stages: []Stage{{Definitions: []Definition{{Name: "smoke", RunSteps: []string{"true"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	cpio, err := CPIO(tgz)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(cpio))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	for _, want := range []string{"lava-3/bin/lava-test-runner\x00", "lava-3/0/tests/0_smoke/run.sh\x00", "TRAILER!!!\x00"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Errorf("cpio lacks %q", want)
		}
	}
	if !strings.HasPrefix(string(raw), newcMagic) || len(raw)%4 != 0 {
		t.Errorf("not a padded newc archive")
	}

	dir := t.TempDir()
	plain, gz, other := filepath.Join(dir, "plain.cpio"), filepath.Join(dir, "ramdisk.cpio.gz"), filepath.Join(dir, "rootfs.ext4")
	os.WriteFile(plain, raw[:len(raw)-1], 0o644) // odd size: appending pads it
	os.WriteFile(gz, cpio, 0o644)
	os.WriteFile(other, []byte("\x53\xefnot cpio"), 0o644)
	for p, want := range map[string]bool{plain: true, gz: true, other: false, filepath.Join(dir, "missing"): false} {
		if got := IsInitramfs(p); got != want {
			t.Errorf("IsInitramfs(%s) = %v", filepath.Base(p), got)
		}
	}
	if err := AppendToInitramfs(plain, cpio); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(plain)
	if len(got) != len(raw)+len(cpio) || !bytes.HasSuffix(got, cpio) {
		t.Errorf("appended size %d, want %d", len(got), len(raw)+len(cpio))
	}
}
