package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/server/store/storetest"
)

func artifactsCLI(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := artifactsCommand(context.Background(), args, cmdIO{&out, &errb}, strings.NewReader(stdin))
	return code, out.String(), errb.String()
}

func TestArtifactsCommand(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "Image")
	if err := os.WriteFile(file, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	got := filepath.Join(dir, "got")
	d, s := "--database-url="+db, "--artifacts-dir="+filepath.Join(dir, "store")
	steps := []struct {
		stdin   string
		args    []string
		code    int
		out     string // exact stdout; "*" any
		errPart string
	}{
		{"", []string{"put", "kernels/Image", file, d, s}, 0, "default/payload/kernels/Image 6 " + sum("kernel") + "\n", ""},
		{"from stdin", []string{"put", "--area", "temp", "logs/a.txt", "-", d, s}, 0, "default/temp/logs/a.txt 10 " + sum("from stdin") + "\n", ""},
		{"", []string{"get", "kernels/Image", d, s}, 0, "kernel", ""},
		{"", []string{"get", "kernels/Image", got, d, s}, 0, "", ""},
		{"", []string{"ls", d, s}, 0, "kernels/Image\t6\t" + sum("kernel") + "\tjob -\texpires never\n", ""},
		{"", []string{"ls", "nothing/", d, s}, 0, "", ""},
		{"", []string{"ls", "--area", "temp", d, s}, 0, "*", ""},
		{"", []string{"rm", "kernels/Image", d, s}, 0, "", ""},
		{"", []string{"rm", "kernels/Image", d, s}, 1, "", "not found"},
		{"", []string{"get", "kernels/Image", d, s}, 1, "", "not found"},
		{"x", []string{"put", "../etc/passwd", "-", d, s}, 1, "", "invalid artifact path"},
		{"x", []string{"put", "a", "-", "--area", "other", d, s}, 1, "", `area "other"`},
		{"x", []string{"put", "a", "-", "--realm", "nosuch", d, s}, 1, "", "not found"},
		{"x", []string{"put", "a", filepath.Join(dir, "missing"), d, s}, 1, "", "no such file"},
		{"", []string{"ls", d}, 1, "", "no artifact storage"},
		{"", []string{"frob", d, s}, 2, "", "unknown action"},
		{"", []string{"put", "a", d, s}, 2, "", "wrong arguments"},
	}
	for i, st := range steps {
		code, out, errs := artifactsCLI(st.stdin, st.args...)
		if code != st.code || (st.out != "*" && out != st.out) || !strings.Contains(errs, st.errPart) {
			t.Fatalf("step %d %v: code %d, stdout %q, stderr %q; want %d, %q, stderr with %q", i, st.args, code, out, errs, st.code, st.out, st.errPart)
		}
		if i == 3 {
			if b, err := os.ReadFile(got); err != nil || string(b) != "kernel" {
				t.Fatalf("get to a file: %q, %v", b, err)
			}
		}
	}
}
