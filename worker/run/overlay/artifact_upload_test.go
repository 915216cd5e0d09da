package overlay

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// uploadShells are the shells lava-artifact-upload is run with: the host's
// /bin/sh with its tools (dut-sim), and busybox alone (our initramfs) when
// the host has it.
func uploadShells(t *testing.T) map[string][]string {
	t.Helper()
	shells := map[string][]string{"sh": {"/bin/sh"}}
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return shells
	}
	dir := t.TempDir()
	for _, applet := range []string{"sh", "base64", "sha256sum", "wc", "basename", "dirname", "cat"} {
		if err := os.Symlink(bb, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	shells["busybox"] = []string{filepath.Join(dir, "sh"), "PATH=" + dir}
	return shells
}

func TestArtifactUploadScript(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, name := range []string{"lava-artifact-upload", "lava-common-functions"} {
		data, err := fs.ReadFile(scripts, "scripts/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := t.TempDir()
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	file := filepath.Join(work, "out.bin")
	os.WriteFile(file, data, 0o644)
	big := filepath.Join(work, "big.img")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, 64<<20+1); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	for shell, argv := range uploadShells(t) {
		run := func(args ...string) (string, string, error) {
			cmd := exec.Command(argv[0], append([]string{filepath.Join(bin, "lava-artifact-upload")}, args...)...)
			cmd.Dir = work
			cmd.Env = append(os.Environ(), argv[1:]...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			return stdout.String(), stderr.String(), err
		}
		t.Run(shell, func(t *testing.T) {
			for _, tc := range []struct{ args []string }{{[]string{file, "dir/out.bin"}}, {[]string{"out.bin"}}} {
				name := "out.bin"
				if len(tc.args) == 2 {
					name = tc.args[1]
				}
				out, errOut, err := run(tc.args...)
				if err != nil {
					t.Fatalf("%v: %v: %s", tc.args, err, errOut)
				}
				lines := strings.Split(strings.TrimSpace(out), "\n")
				start := fmt.Sprintf("<LAVA_SIGNAL_ARTIFACT_START %s %d %x>", name, len(data), sum)
				end := fmt.Sprintf("<LAVA_SIGNAL_ARTIFACT_END %s>", name)
				if len(lines) < 3 || lines[0] != start || lines[len(lines)-1] != end {
					t.Fatalf("%v: output\n%s\nwant %s ... %s", tc.args, out, start, end)
				}
				enc := strings.Join(lines[1:len(lines)-1], "")
				got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
				if err != nil || !bytes.Equal(got, data) {
					t.Errorf("%v: data %d bytes (%v), want %d", tc.args, len(got), err, len(data))
				}
			}
			for _, name := range []string{"/abs", "../up", "a/../b", "a b", "a<b", "a>b", "a//b", "dir/", "."} {
				out, errOut, err := run(file, name)
				if err == nil || strings.Contains(out, "LAVA_SIGNAL") || !strings.Contains(errOut, "invalid NAME '"+name+"'") {
					t.Errorf("name %q: err %v, stdout %q, stderr %q", name, err, out, errOut)
				}
			}
			if out, errOut, err := run(filepath.Join(work, "missing")); err == nil || out != "" || !strings.Contains(errOut, "missing is not a readable file") {
				t.Errorf("missing file: err %v, stdout %q, stderr %q", err, out, errOut)
			}
			out, errOut, err := run(big)
			want := fmt.Sprintf("\n<LAVA_SIGNAL_ARTIFACT_START big.img %d ->\n\n<LAVA_SIGNAL_ARTIFACT_END big.img>\n", 64<<20+1)
			if err == nil || out != want || !strings.Contains(errOut, "more than the 67108864 an upload may have") {
				t.Errorf("too big: err %v, stdout %q, stderr %q", err, out, errOut)
			}
			if _, errOut, err := run(); err == nil || !strings.Contains(errOut, "usage: lava-artifact-upload FILE [NAME]") {
				t.Errorf("no argument: err %v, stderr %q", err, errOut)
			}
		})
	}
}
