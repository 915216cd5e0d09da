package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// lavaServer runs the command in-process and returns its exit code and output.
func lavaServer(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

const validJob = `
job_name: minimal
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: minimal
`

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	dir := t.TempDir()
	dict := filepath.Join(dir, "qemu-01.jinja2")
	if err := os.WriteFile(dict, []byte("{% extends 'qemu.jinja2' %}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte("bobpw\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args []string
		code int
		out  string // prefix of stdout, or of stderr when code != 0
	}{
		{[]string{"users", "add", "admin", "--database-url", db, "--superuser", "--password", "pw"}, 0, "user admin added"},
		{[]string{"users", "add", "bob", "--database-url", db, "--password-file", pwFile}, 0, "user bob added"},
		{[]string{"users", "add", "carol", "--database-url", db, "--password-file", filepath.Join(dir, "none")}, 1, "lava-server users add: --password-file: open "},
		{[]string{"users", "add", "--database-url", db, "admin"}, 1, "lava-server users add: create user \"admin\": already exists"},
		{[]string{"tokens", "add", "--database-url", db, "--user", "nobody"}, 1, "lava-server tokens add: add token: user \"nobody\": not found"},
		{[]string{"tokens", "add", "--database-url", db}, 1, "lava-server tokens add: --user is required"},
		{[]string{"workers", "add", "w1", "--database-url", db, "--description", "lab"}, 0, ""},
		{[]string{"device-types", "add", "qemu", "--database-url", db}, 0, "device type qemu added"},
		{[]string{"devices", "add", "qemu-01", "--database-url", db, "--device-type", "qemu", "--worker", "w1", "--dict", dict, "--tags", "kvm, fast"}, 0, "device qemu-01 added (qemu, Unknown)"},
		{[]string{"devices", "add", "qemu-02", "--database-url", db, "--device-type", "nope"}, 1, "lava-server devices add: create device \"qemu-02\": device type \"nope\": not found"},
		{[]string{"devices", "add", "qemu-03", "--database-url", db, "--device-type", "qemu", "--dict", filepath.Join(dir, "missing")}, 1, "lava-server devices add: device dictionary: "},
		{[]string{"devices", "add", "--database-url", db, "--device-type", "qemu"}, 2, "lava-server devices add: wrong number of arguments"},
		{[]string{"devices", "add", "x", "--database-url", db}, 1, "lava-server devices add: --device-type is required"},
		{[]string{"users", "add", "nodb", "--database-url", ""}, 1, "lava-server users add: no database URL"},
		{[]string{"users", "add", "x", "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"frobnicate"}, 2, "lava-server: unknown command \"frobnicate\""},
		{[]string{"migrate", "--database-url", db}, 0, "database is up to date"},
	}
	for _, s := range steps {
		code, out, errOut := lavaServer(t, s.args...)
		got := out
		if s.code != 0 {
			got = errOut
		}
		if code != s.code || !strings.HasPrefix(got, s.out) {
			t.Errorf("%v: exit %d, output %q %q; want %d %q", s.args, code, out, errOut, s.code, s.out)
		}
	}
	code, token, _ := lavaServer(t, "tokens", "add", "--database-url", db, "--user", "admin", "--description", "ci")
	token = strings.TrimSpace(token)
	if code != 0 || len(token) != 64 {
		t.Fatalf("tokens add: %d %q", code, token)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if u, err := st.UserByToken(ctx, token); err != nil || u.Username != "admin" || !u.IsSuperuser {
		t.Errorf("token owner = %+v, %v", u, err)
	}
	if _, err := st.AuthenticateUser(ctx, "bob", "bobpw"); err != nil {
		t.Errorf("password from file: %v", err)
	}
	if _, err := st.AuthenticateUser(ctx, "admin", "pw"); err != nil {
		t.Errorf("password: %v", err)
	}
	d, err := st.DeviceByName(ctx, store.DefaultRealm, "qemu-01")
	if err != nil || d.Dictionary != "{% extends 'qemu.jinja2' %}\n" || strings.Join(d.Tags, ",") != "fast,kvm" || d.Worker == nil || *d.Worker != "w1" {
		t.Errorf("device = %+v, %v", d, err)
	}
}

func TestValidateAndSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte(validJob), 0o644)
	os.WriteFile(bad, []byte("job_name: x\nactions: 3\n"), 0o644)
	code, out, _ := lavaServer(t, "validate", good)
	if code != 0 || out != good+": valid\n" {
		t.Errorf("valid: %d %q", code, out)
	}
	code, out, _ = lavaServer(t, "validate", good, bad, filepath.Join(dir, "none.yaml"))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 1 || len(lines) < 3 || lines[0] != good+": valid" || !strings.HasPrefix(lines[1], bad+": invalid: ") ||
		!strings.HasSuffix(out, "none.yaml: invalid: no such file or directory\n") {
		t.Errorf("mixed: %d %q", code, out)
	}
	// After "--" a name starting with "-" is a file, not a flag.
	if code, out, errOut := lavaServer(t, "validate", "--strict", "--", good, "-x.yaml"); code != 1 ||
		out != good+": valid\n-x.yaml: invalid: no such file or directory\n" {
		t.Errorf("files after --: %d %q %q", code, out, errOut)
	}
	if code, _, _ := lavaServer(t, "validate"); code != 2 {
		t.Errorf("validate without files: exit %d", code)
	}
	code, out, _ = lavaServer(t, "schema")
	if code != 0 || !json.Valid([]byte(out)) {
		t.Errorf("schema: %d %.200q", code, out)
	}
	if code, out, _ := lavaServer(t, "help"); code != 0 || !strings.Contains(out, "devices add") {
		t.Errorf("help: %d %q", code, out)
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--database-url", db, "--listen", addr, "--log-level", "warn"}, &bytes.Buffer{}, &errb)
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v0.2/workers/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("workers list: %d", resp.StatusCode)
			}
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not up: %v", err)
		}
	}
	resp, err := http.PostForm(base+"/scheduler/internal/v1/workers/", url.Values{"name": {"auto"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("auto registration: %d", resp.StatusCode)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(base + "/api/v0.2/workers/"); err == nil {
		t.Error("server still answers after shutdown")
	}
}
