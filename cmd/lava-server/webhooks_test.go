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

func TestWebhooksCommand(t *testing.T) {
	t.Parallel()
	db := "--database-url=" + storetest.URL(t)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("k3y\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args    []string
		code    int
		out     string // substring of stdout
		errPart string // substring of stderr
	}{
		{[]string{"add", "https://hooks.example/a", "--secret-file", secret, db}, 0, "1\n", ""},
		{[]string{"add", "https://hooks.example/a", db}, 1, "", "already"},
		{[]string{"add", "ftp://hooks.example/a", db}, 1, "", "scheme must be http or https"},
		{[]string{"add", "https://hooks.example/b", "--realm", "nosuch", db}, 1, "", "not found"},
		{[]string{"add", "https://hooks.example/b", "--secret-file", secret + ".missing", db}, 1, "", "secret"},
		{[]string{"add", "https://hooks.example/b", db}, 0, "", ""},
		{[]string{"ls", db}, 0, "1   https://hooks.example/a  true", ""},
		{[]string{"ls", db}, 0, "https://hooks.example/b  false", ""},
		{[]string{"rm", "1", db}, 0, "", ""},
		{[]string{"rm", "1", db}, 1, "", "not found"},
		{[]string{"rm", "https://hooks.example/b", db}, 0, "", ""},
		{[]string{"rm", "https://hooks.example/b", db}, 1, "", "not found"},
		{[]string{"add", db}, 2, "", "needs a URL"},
		{[]string{"ls", "x", db}, 2, "", "takes no URL"},
		{[]string{"frob", "x", db}, 1, "", "unknown action"},
	}
	for i, s := range steps {
		var out, errb bytes.Buffer
		code := cmdWebhooks(context.Background(), s.args, cmdIO{&out, &errb})
		if code != s.code || !strings.Contains(out.String(), s.out) || !strings.Contains(errb.String(), s.errPart) {
			t.Fatalf("step %d %v: code %d stdout %q stderr %q; want code %d, stdout with %q, stderr with %q",
				i, s.args, code, out.String(), errb.String(), s.code, s.out, s.errPart)
		}
	}
}
