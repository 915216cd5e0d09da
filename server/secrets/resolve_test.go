package secrets_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golava/server/secrets"
	"golava/server/store"
)

func TestResolve(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, box, _ := setup(t)
	mustPut(t, box, "/lava/default/API", "tok-default")
	mustPut(t, box, "/lava/lab-b/API", "tok-b")

	got, err := box.Resolve(ctx, "default", map[string]any{
		"API": "/lava/default/API", "LITERAL": "plain-value", "NUM": 42,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got["API"] != "tok-default" || got["LITERAL"] != "plain-value" || got["NUM"] != "42" || len(got) != 3 {
		t.Fatalf("Resolve = %v", got)
	}
	tests := []struct {
		block   map[string]any
		wantErr string
		is      error
	}{
		{map[string]any{"K": "/lava/lab-b/API"}, `secrets.K: /lava/lab-b/API belongs to realm "lab-b", the job runs in realm "default"`, nil},
		{map[string]any{"K": "/lava/default/NONE"}, "secrets.K:", store.ErrNotFound},
		{map[string]any{"K": "/lava/default/a/b"}, "secrets.K: secret path", nil},
	}
	for _, tc := range tests {
		_, err := box.Resolve(ctx, "default", tc.block)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("Resolve(%v) error = %v, want one containing %q", tc.block, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "tok-") {
			t.Errorf("error %q shows a secret value", err)
		}
	}
}

func TestMasker(t *testing.T) {
	t.Parallel()
	m := secrets.NewMasker([]string{"abc", "", "xxabcxx", "tok"})
	tests := []struct{ in, want string }{
		{"key=xxabcxx end", "key=[secret] end"},
		{"abc and tok, token", "[secret] and [secret], [secret]en"},
		{"nothing here", "nothing here"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := m.Apply(tc.in); got != tc.want {
			t.Errorf("Apply(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	var nilMasker *secrets.Masker
	if got := nilMasker.Apply("abc"); got != "abc" {
		t.Errorf("nil Masker changed its input: %q", got)
	}
	if got := secrets.NewMasker(nil).Apply("abc"); got != "abc" {
		t.Errorf("empty Masker changed its input: %q", got)
	}
}
