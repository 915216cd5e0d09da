package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/server/store/storetest"
)

// secretsCLI runs `lava-server secrets ARGS` with stdin.
func secretsCLI(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := secretsCommand(context.Background(), args, cmdIO{&out, &errb}, strings.NewReader(stdin))
	return code, out.String(), errb.String()
}

func TestSecretsCommand(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "master.key")
	newKey := filepath.Join(dir, "master2.key")
	valFile := filepath.Join(dir, "v")
	if err := os.WriteFile(valFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, k, k2 := "--database-url="+db, "--master-key-file="+key, "--master-key-file="+newKey
	steps := []struct {
		stdin   string
		args    []string
		code    int
		out     string // exact stdout
		errPart string // substring of stderr
	}{
		{"", []string{"get", "/lava/default/TOKEN", d, k}, 1, "", "master key file"},
		{"tok-1\n", []string{"set", "/lava/default/TOKEN", d, k}, 0, "", "created a new master key"},
		{"", []string{"get", "/lava/default/TOKEN", d, k}, 0, "tok-1", ""},
		{"", []string{"set", "/lava/default/FILE", "--value-file", valFile, d, k}, 0, "", ""},
		{"", []string{"get", "/lava/default/FILE", d, k}, 0, "from-file", ""},
		{"line\n", []string{"set", "/lava/default/NL", "--keep-newline", d, k}, 0, "", ""},
		{"", []string{"get", "/lava/default/NL", d, k}, 0, "line\n", ""},
		{"", []string{"list", "/lava/default", d}, 0, "/lava/default/FILE\n/lava/default/NL\n/lava/default/TOKEN\n", ""},
		{"x", []string{"set", "/lava/default/a/b", d, k}, 1, "", "exactly two parts"},
		{"x", []string{"set", "/lava/nosuch/X", d, k}, 1, "", "not found"},
		{"x", []string{"set", "/lava/default/X", d, "--master-key-file=" + filepath.Join(dir, "typo.key")}, 1, "", "holds realm keys"},
		{"", []string{"list", "/lava/Bad", d}, 1, "", "lower-case"},
		{"", []string{"rotate-master-key", d, k, "--new-master-key-file=" + newKey}, 0, "rewrapped 1 realm keys: use " + newKey + " from now on\n", ""},
		{"", []string{"get", "/lava/default/TOKEN", d, k}, 1, "", "wrong master key"},
		{"", []string{"get", "/lava/default/TOKEN", d, k2}, 0, "tok-1", ""},
		{"", []string{"delete", "/lava/default/TOKEN", d, k2}, 0, "", ""},
		{"", []string{"delete", "/lava/default/TOKEN", d, k2}, 1, "", "not found"},
		{"", []string{"set", d}, 2, "", "needs --realm R NAME"},
		// The form: --realm R NAME, the value on stdin.
		{"tok-r\n", []string{"set", "--realm", "default", "RTOKEN", d, k2}, 0, "", ""},
		{"", []string{"get", "--realm", "default", "RTOKEN", d, k2}, 0, "tok-r", ""},
		{"", []string{"list", "--realm", "default", d}, 0, "/lava/default/FILE\n/lava/default/NL\n/lava/default/RTOKEN\n", ""},
		{"x", []string{"set", "--realm", "default", "/lava/default/X", d, k2}, 1, "", "not a path"},
		{"x", []string{"set", "--realm", "default", d, k2}, 1, "", "secret name is empty"},
		{"x", []string{"set", "--realm", "Bad", "X", d, k2}, 1, "", "--realm: realm"},
		{"", []string{"list", "--realm", "default", "extra", d}, 1, "", "takes no other argument"},
		{"", []string{"delete", "--realm", "default", "RTOKEN", d, k2}, 0, "", ""},
		{"", []string{"frobnicate", "/lava/default/X", d, k2}, 1, "", "unknown action"},
	}
	for i, s := range steps {
		code, out, errOut := secretsCLI(s.stdin, s.args...)
		if code != s.code || out != s.out || !strings.Contains(errOut, s.errPart) {
			t.Fatalf("step %d %v: code %d stdout %q stderr %q; want code %d stdout %q stderr containing %q",
				i, s.args, code, out, errOut, s.code, s.out, s.errPart)
		}
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created master key file: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo.key")); !os.IsNotExist(err) {
		t.Fatalf("a mistyped key file was created: %v", err)
	}
}
