package coordinator

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"
)

// testLogger sends server logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// startServer runs a coordinator until the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("coordinator Run: %v", err)
		}
	})
	return srv
}

// rawExchange sends raw bytes, closes the write side and returns everything
// the server sent back before closing.
func rawExchange(t testing.TB, addr string, raw []byte) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(conn)
	// A server closing with unread input resets the connection: that is
	// still "closed without a reply".
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read reply: %v", err)
	}
	return b
}

// exchange sends one framed request and returns the reply body ("" if none).
func exchange(t testing.TB, addr string, req *Object) string {
	t.Helper()
	b := rawExchange(t, addr, AppendMessage(nil, req.String()))
	if len(b) == 0 {
		return ""
	}
	if len(b) < HeaderLen {
		t.Fatalf("short reply %q", b)
	}
	n, err := parseHeader(b[:HeaderLen])
	if err != nil || n != len(b)-HeaderLen {
		t.Fatalf("reply header %q does not match body of %d: %v", b[:HeaderLen], len(b)-HeaderLen, err)
	}
	return string(b[HeaderLen:])
}

type node struct{ name, role string }

// baseFor builds the base message the LAVA client sends.
func baseFor(n node, groupName string) *Object {
	return NewObject().Set("port", 3079).Set("blocksize", 4096).Set("poll_delay", 3).
		Set("host", "localhost").Set("hostname", "host-"+n.name).Set("client_name", n.name).
		Set("group_name", groupName).Set("role", n.role)
}

func req(kv ...any) *Object {
	o := NewObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.Set(kv[i].(string), kv[i+1])
	}
	return o
}

type step struct {
	from node
	req  *Object // merged over the base message; nil base when raw
	raw  bool    // send req as is, without the base fields
	want string  // exact reply text; "" means closed without reply
}

var (
	srvA = node{"10.0", "server"}
	cliB = node{"10.1", "client"}
	cliC = node{"10.2", "client"}
)

func gd(n any) *Object { return req("request", "group_data", "group_size", n) }

const (
	ackS  = `{"response": "ack"}`
	waitS = `{"response": "wait"}`
	nackS = `{"response": "nack"}`
)

func TestRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
	}{
		{"group_data waits for every client", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{srvA, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
		}},
		{"roles map groups clients by role", []step{
			{cliB, gd(3), false, waitS},
			{srvA, gd(3), false, waitS},
			{cliC, gd("3"), false, `{"response": "group_data", "roles": {"10.1": "client", "10.2": "client", "10.0": "server"}}`},
		}},
		{"new group needs a size", []step{
			{srvA, req("request", "lava_wait", "messageID", "x"), false, nackS},
			{srvA, gd(0), false, nackS},
			{srvA, gd(1), false, `{"response": "group_data", "roles": {"10.0": "server"}}`},
		}},
		{"missing or unknown request", []step{
			{srvA, gd(1), false, `{"response": "group_data", "roles": {"10.0": "server"}}`},
			{srvA, req("messageID", "x"), false, nackS},
			{srvA, req("request", "lava_dance"), false, nackS},
			{srvA, req("request", "complete"), false, ""},
			{srvA, req("request", "lava_wait", "group_size", 1), false, nackS}, // no messageID
		}},
		{"bad requests", []step{
			{srvA, req("request", "group_data", "group_size", 2, "client_name", "x", "group_name", "g"), true, nackS}, // no hostname/role
			{srvA, req("request", "group_data", "group_size", 2, "group_name", "g", "hostname", "h", "role", "r"), true, nackS},
			{srvA, req("request", "group_data", "group_size", 2, "client_name", "x", "hostname", "h", "role", "r"), true, nackS},
		}},
		{"lava_send then lava_wait", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{cliB, req("request", "lava_wait", "messageID", "ready", "nodeID", "10.1"), false, waitS},
			{srvA, req("request", "lava_send", "messageID", "ready", "message", req("ip", "10.0.0.1", "é", "ü")), false, ackS},
			{cliB, req("request", "lava_wait", "messageID", "ready", "nodeID", "10.1"), false, `{"response": "ack", "message": {"10.0": {"ip": "10.0.0.1", "\u00e9": "\u00fc"}}}`},
			{srvA, req("request", "lava_wait", "messageID", "ready", "nodeID", "10.0"), false, `{"response": "ack", "message": {"10.0": {"ip": "10.0.0.1", "\u00e9": "\u00fc"}}}`},
			{cliB, req("request", "lava_send", "messageID", "ready"), false, ackS},
			{srvA, req("request", "lava_wait", "messageID", "ready", "nodeID", "10.0"), false, `{"response": "ack", "message": {"10.0": {"ip": "10.0.0.1", "\u00e9": "\u00fc"}, "10.1": {}}}`},
		}},
		{"lava_wait_all without role", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{srvA, req("request", "lava_wait_all", "messageID", "done"), false, nackS},
			{srvA, req("request", "lava_send", "messageID", "done", "message", nil), false, ackS},
			{srvA, req("request", "lava_wait_all", "messageID", "done"), false, waitS},
			{cliB, req("request", "lava_send", "messageID", "done", "message", req("k", "v")), false, ackS},
			{srvA, req("request", "lava_wait_all", "messageID", "done"), false, `{"response": "ack", "message": {"10.0": {}, "10.1": {"k": "v"}}}`},
			{cliB, req("request", "lava_wait_all", "messageID", "done"), false, `{"response": "ack", "message": {"10.0": {}, "10.1": {"k": "v"}}}`},
		}},
		{"lava_wait_all with waitrole (delayed start)", []step{
			{srvA, gd(3), false, waitS},
			{cliB, gd(3), false, waitS},
			{cliC, gd(3), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client", "10.2": "client"}}`},
			{cliB, req("request", "lava_wait_all", "waitrole", "server", "messageID", "lava_start"), false, waitS},
			{cliB, req("request", "lava_wait_all", "waitrole", "nobody", "messageID", "lava_start"), false, waitS},
			{srvA, req("request", "lava_send", "messageID", "lava_start", "message", req("go", "1")), false, ackS},
			{cliB, req("request", "lava_wait_all", "waitrole", "server", "messageID", "lava_start"), false, `{"response": "ack", "message": {"10.0": {"go": "1"}}}`},
			{cliC, req("request", "lava_wait_all", "waitrole", "server", "messageID", "lava_start"), false, `{"response": "ack", "message": {"10.0": {"go": "1"}}}`},
		}},
		{"waitrole of own role waits for own role then answers wait data", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{cliB, req("request", "lava_send", "messageID", "m"), false, ackS},
			{cliB, req("request", "lava_wait_all", "waitrole", "server", "messageID", "m"), false, `{"response": "ack", "message": {"10.1": {}}}`},
		}},
		{"lava_sync with three clients, reusable", []step{
			{srvA, gd(3), false, waitS},
			{cliB, gd(3), false, waitS},
			{cliC, gd(3), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client", "10.2": "client"}}`},
			{srvA, req("request", "lava_sync", "messageID", "s1"), false, waitS},
			{cliB, req("request", "lava_sync", "messageID", "s1"), false, waitS},
			{srvA, req("request", "lava_sync", "messageID", "s1"), false, waitS},
			{cliC, req("request", "lava_sync", "messageID", "s1"), false, waitS},
			{cliC, req("request", "lava_sync", "messageID", "s1"), false, `{"response": "ack", "message": "s1"}`},
			{srvA, req("request", "lava_sync", "messageID", "s1"), false, `{"response": "ack", "message": "s1"}`},
			{cliB, req("request", "lava_sync", "messageID", "s1", "message", req("a", "b")), false, `{"response": "ack", "message": {"a": "b"}}`},
			{srvA, req("request", "lava_sync", "messageID", "s1"), false, waitS}, // cleared, starts over
		}},
		{"clear_group deletes the group after every client", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{srvA, req("request", "clear_group", "group_size", 2), false, ackS},
			{cliB, req("request", "lava_wait", "messageID", "x"), false, waitS},
			{cliB, req("request", "clear_group", "group_size", 2), false, ackS},
			{cliB, req("request", "lava_wait", "messageID", "x"), false, nackS},
		}},
		{"aggregate (legacy)", []step{
			{srvA, gd(2), false, waitS},
			{cliB, gd(2), false, `{"response": "group_data", "roles": {"10.0": "server", "10.1": "client"}}`},
			{srvA, req("request", "aggregate", "sub_id", "10.0"), false, nackS},
			{srvA, req("request", "aggregate", "bundle", "b0", "sub_id", nil), false, nackS},
			{srvA, req("request", "aggregate", "bundle", "b0", "sub_id", "10.0"), false, waitS},
			{cliB, req("request", "aggregate", "bundle", "b1", "sub_id", "10.1"), false, ackS},
			{srvA, req("request", "aggregate", "bundle", "b0", "sub_id", "10.0"), false, waitS},
			{srvA, req("request", "aggregate", "bundle", "b0", "sub_id", "10.0"), false, waitS},
			{srvA, req("request", "aggregate", "bundle", "b0", "sub_id", "10.0"), false, `{"response": "ack", "message": {"bundle": {"10.0": "b0", "10.1": "b1"}}}`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, Config{})
			addr := srv.Addr().String()
			for i, st := range tt.steps {
				msg := st.req
				if !st.raw {
					msg = baseFor(st.from, "grp")
					msg.Update(st.req)
				}
				if got := exchange(t, addr, msg); got != st.want {
					t.Fatalf("step %d (%s %s):\n got  %s\n want %s", i, st.from.name, st.req, got, st.want)
				}
			}
		})
	}
}

func TestNonObjectJSONIsNacked(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	for _, body := range []string{`[1, 2]`, `"request"`, `12`, `null`} {
		got := rawExchange(t, srv.Addr().String(), AppendMessage(nil, body))
		if string(got) != "00000014"+nackS {
			t.Errorf("%s: got %q", body, got)
		}
	}
}
