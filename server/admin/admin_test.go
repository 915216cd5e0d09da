package admin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/server/store"
	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeConfig{DatabaseURL: db, Listen: "127.0.0.1:0", Events: true,
			Ready: func(addr string) { ready <- addr }})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	resp, err := http.Get("http://" + addr + "/api/v0.2/devicetypes/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("devicetypes: %d", resp.StatusCode)
	}
	// /ws/ is routed (a plain GET is refused by the WebSocket handler, not 404).
	resp, err = http.Get("http://" + addr + "/ws/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		t.Errorf("/ws/ not served")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if err := Serve(ctx, ServeConfig{}); err == nil || !strings.Contains(err.Error(), "no database URL") {
		t.Errorf("no URL: %v", err)
	}
	db := storetest.URL(t)
	if err := Serve(ctx, ServeConfig{DatabaseURL: db, Listen: "127.0.0.1:notaport"}); err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Errorf("bad listen address: %v", err)
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := Connect(ctx, storetest.URL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := AddUser(ctx, st, "", store.NewUser{Username: "u"}); err != nil {
		t.Fatal(err)
	}
	if tok, err := AddToken(ctx, st, "", "u", "d"); err != nil || len(tok) != 64 {
		t.Errorf("AddToken = %q, %v", tok, err)
	}
	if tok, err := AddWorker(ctx, st, "", "w", ""); err != nil || len(tok) != 32 {
		t.Errorf("AddWorker = %q, %v", tok, err)
	}
	if err := AddDeviceType(ctx, st, "", store.NewDeviceType{Name: "qemu"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	big := filepath.Join(dir, "big.jinja2")
	if err := os.WriteFile(big, bytes.Repeat([]byte("x"), MaxDictionaryBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AddDevice(ctx, st, "", store.NewDevice{Hostname: "d", DeviceType: "qemu"}, big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big dictionary: %v", err)
	}
	if d, err := AddDevice(ctx, st, "", store.NewDevice{Hostname: "d", DeviceType: "qemu", Worker: "w"}, ""); err != nil || *d.Worker != "w" {
		t.Errorf("AddDevice = %+v, %v", d, err)
	}
	var out bytes.Buffer
	if ValidateFiles(&out, []string{big}, false) || !strings.HasPrefix(out.String(), big+": invalid: ") {
		t.Errorf("validate a non-job: %q", out.String())
	}
}

func TestConnectWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	closed := "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"
	_, err := Connect(ctx, closed, nil)
	if err == nil || !unreachable(err) {
		t.Fatalf("closed port: %v (unreachable %v)", err, unreachable(err))
	}
	if unreachable(errors.New("syntax error")) {
		t.Error("a plain error counts as unreachable")
	}
	// Retries stop at the deadline with the connection error.
	if _, err := connectWait(ctx, closed, 600*time.Millisecond, slog.New(slog.DiscardHandler)); err == nil || !unreachable(err) {
		t.Errorf("connectWait: %v", err)
	}
	// A cancelled context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := connectWait(cctx, closed, time.Hour, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("connectWait with a cancelled context succeeded")
	}
	// A reachable database connects on the first try.
	st, err := connectWait(ctx, storetest.URL(t), time.Minute, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
