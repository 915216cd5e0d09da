package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/server/secrets"
	"golava/server/store"
	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func newKey(t *testing.T) []byte {
	t.Helper()
	k, err := secrets.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// setup returns a fresh database with a second realm "lab-b" and a Box.
func setup(t *testing.T) (*store.Store, *secrets.Box, []byte) {
	t.Helper()
	st := storetest.New(t)
	if _, err := st.Pool().Exec(context.Background(), `INSERT INTO realms (name) VALUES ('lab-b')`); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	box, err := secrets.New(st, key)
	if err != nil {
		t.Fatal(err)
	}
	return st, box, key
}

func mustPut(t *testing.T, box *secrets.Box, path, value string) {
	t.Helper()
	if err := box.Put(context.Background(), path, []byte(value)); err != nil {
		t.Fatalf("put %s: %v", path, err)
	}
}

func wantValue(t *testing.T, box *secrets.Box, path, want string) {
	t.Helper()
	got, err := box.Get(context.Background(), path)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	if string(got) != want {
		t.Fatalf("get %s = %q, want %q", path, got, want)
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", secrets.MaxNameLen+1)
	tests := []struct {
		in      string
		realm   string
		name    string
		wantErr string // substring of the error; "" for success
	}{
		{in: "/lava/default/API_TOKEN", realm: "default", name: "API_TOKEN"},
		{in: "/lava/lab-b/ssh.key-1", realm: "lab-b", name: "ssh.key-1"},
		{in: "lava/default/x", wantErr: `must start with "/lava/"`},
		{in: "/secrets/default/x", wantErr: `must start with "/lava/"`},
		{in: "/lava/default", wantErr: "exactly two parts after /lava/ (REALM/NAME), got 1"},
		{in: "/lava/default/a/b", wantErr: "exactly two parts after /lava/ (REALM/NAME), got 3"},
		{in: "/lava//x", wantErr: "realm is empty"},
		{in: "/lava/Default/x", wantErr: `realm "Default": use lower-case letters`},
		{in: "/lava/default/", wantErr: "secret name is empty"},
		{in: "/lava/default/has space", wantErr: `secret name "has space": use letters`},
		{in: "/lava/default/.hidden", wantErr: `secret name ".hidden": use letters`},
		{in: "/lava/default/" + long, wantErr: "longer than 128 characters"},
	}
	for _, tc := range tests {
		p, err := secrets.ParsePath(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParsePath(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || p.Realm != tc.realm || p.Name != tc.name || p.String() != tc.in {
			t.Errorf("ParsePath(%q) = %+v, %v; want realm %q name %q", tc.in, p, err, tc.realm, tc.name)
		}
	}
}

func TestMasterKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k1, created, err := secrets.EnsureMasterKeyFile(path)
	if err != nil || !created || len(k1) != secrets.KeySize {
		t.Fatalf("first EnsureMasterKeyFile = %d bytes, created %v, %v", len(k1), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	k2, created, err := secrets.EnsureMasterKeyFile(path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second EnsureMasterKeyFile: created %v, same key %v, %v", created, bytes.Equal(k1, k2), err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.LoadMasterKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: error = %v, want one saying chmod 600", err)
	}
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.LoadMasterKeyFile(bad); err == nil || !strings.Contains(err.Error(), "want 64 hex digits") {
		t.Errorf("garbage key file: error = %v", err)
	}
	if _, err := secrets.LoadMasterKeyFile(filepath.Join(dir, "absent")); err == nil {
		t.Error("absent key file: no error")
	}
	if _, err := secrets.ParseMasterKey(strings.Repeat("ab", 16), "LAVA_MASTER_KEY"); err == nil ||
		!strings.Contains(err.Error(), "LAVA_MASTER_KEY") {
		t.Errorf("short key: error = %v, want one naming its source", err)
	}
	if k, err := secrets.ParseMasterKey(" "+strings.Repeat("0f", 32)+"\n", "env"); err != nil || k[0] != 0x0f {
		t.Errorf("valid hex key: %x, %v", k, err)
	}
	if _, err := secrets.New(nil, []byte("short")); err == nil {
		t.Error("New with a 5-byte key: no error")
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, box, _ := setup(t)
	mustPut(t, box, "/lava/default/API_TOKEN", "tok-1")
	mustPut(t, box, "/lava/default/empty", "")
	mustPut(t, box, "/lava/lab-b/API_TOKEN", "tok-b")
	wantValue(t, box, "/lava/default/API_TOKEN", "tok-1")
	wantValue(t, box, "/lava/default/empty", "")
	wantValue(t, box, "/lava/lab-b/API_TOKEN", "tok-b")

	mustPut(t, box, "/lava/default/API_TOKEN", "tok-2") // replace
	wantValue(t, box, "/lava/default/API_TOKEN", "tok-2")

	names, err := box.List(ctx, "default")
	if err != nil || strings.Join(names, ",") != "API_TOKEN,empty" {
		t.Fatalf("List(default) = %v, %v", names, err)
	}
	if err := box.Delete(ctx, "/lava/default/API_TOKEN"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		err  error
	}{
		{"get deleted", func() error { _, err := box.Get(ctx, "/lava/default/API_TOKEN"); return err }()},
		{"delete twice", box.Delete(ctx, "/lava/default/API_TOKEN")},
		{"get in unknown realm", func() error { _, err := box.Get(ctx, "/lava/nosuch/x"); return err }()},
		{"put in unknown realm", box.Put(ctx, "/lava/nosuch/x", []byte("v"))},
		{"list unknown realm", func() error { _, err := box.List(ctx, "nosuch"); return err }()},
	} {
		if !errors.Is(tc.err, store.ErrNotFound) {
			t.Errorf("%s: error = %v, want not found", tc.what, tc.err)
		}
	}
	// The other realm is untouched by the delete.
	wantValue(t, box, "/lava/lab-b/API_TOKEN", "tok-b")
	if err := box.Put(ctx, "/lava/default/big", make([]byte, secrets.MaxValueBytes+1)); err == nil ||
		!strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized value: error = %v", err)
	}
	if err := box.Put(ctx, "/lava/default/a/b", []byte("v")); err == nil || !strings.Contains(err.Error(), "REALM/NAME") {
		t.Errorf("bad path: error = %v", err)
	}
}
