package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func newTestClient(t testing.TB, addr net.Addr, group, name, role string, size int) *Client {
	tcp := addr.(*net.TCPAddr)
	return NewClient(ClientConfig{
		Host: "127.0.0.1", Port: tcp.Port, PollDelay: 5 * time.Millisecond, ConnectBackoff: 5 * time.Millisecond,
		Hostname: "host-" + name, ClientName: name, GroupName: group, Role: role, GroupSize: size,
		SystemTimeout: 20 * time.Second, Timeout: 20 * time.Second,
	})
}

// runNode is the life of one node of a two-node group.
func runNode(ctx context.Context, c *Client, name, peer string) error {
	roles, err := c.GroupData(ctx)
	if err != nil {
		return fmt.Errorf("group_data: %w", err)
	}
	if len(roles) != 2 {
		return fmt.Errorf("roles %v", roles)
	}
	if r, err := c.Sync(ctx, "start", 0); err != nil || r.Response != "ack" || r.Message != "start" {
		return fmt.Errorf("sync: %+v, %w", r, err)
	}
	if _, err := c.Send(ctx, "hello", NewObject().Set("from", name), 0); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	r, err := c.WaitAll(ctx, "hello", "", 0)
	if err != nil {
		return fmt.Errorf("wait_all: %w", err)
	}
	msg, _ := r.Message.(*Object)
	got, _ := msg.Get(peer)
	if from, _ := got.(*Object).Get("from"); from != peer {
		return fmt.Errorf("wait_all message %s", r.Raw)
	}
	if r, err := c.Wait(ctx, "hello", 0); err != nil || r.Response != "ack" {
		return fmt.Errorf("wait: %+v, %w", r, err)
	}
	return c.ClearGroup(ctx)
}

func TestConcurrentGroups(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{StateFile: filepath.Join(t.TempDir(), "state.json")})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const groups = 100
	errs := make(chan error, 2*groups)
	var wg sync.WaitGroup
	for g := range groups {
		name := "group-" + strconv.Itoa(g)
		a, b := strconv.Itoa(g)+".0", strconv.Itoa(g)+".1"
		wg.Go(func() { errs <- runNode(ctx, newTestClient(t, srv.Addr(), name, a, "server", 2), a, b) })
		wg.Go(func() { errs <- runNode(ctx, newTestClient(t, srv.Addr(), name, b, "client", 2), b, a) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := srv.Groups(); n != 0 {
		t.Errorf("%d groups left after every clear_group", n)
	}
}

func TestFramingOverTCP(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{MaxMessage: 1 << 10, IOTimeout: 2 * time.Second})
	addr := srv.Addr().String()
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"short header", "0000", ""},
		{"non-hex header", "0000000Z{}", ""},
		{"huge length gets nack", "FFFFFFFF", "00000014" + nackS},
		{"over the limit gets nack", "00000401", "00000014" + nackS},
		{"garbage", "\x00\x01\x02\x03\xff\xfe\xfd\xfc\xfb", ""},
		{"not JSON", "00000005hello", ""},
		{"invalid UTF-8", "00000003\"\xff\"", ""},
		{"nothing", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := string(rawExchange(t, addr, []byte(tt.raw))); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("silent peer is cut at the deadline", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if n, err := conn.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read %d, %v; want the server to close", n, err)
		}
	})
	// The server still answers after all that.
	c := newTestClient(t, srv.Addr(), "after", "1.0", "r", 1)
	if roles, err := c.GroupData(context.Background()); err != nil || roles["1.0"] != "r" {
		t.Fatalf("group_data after garbage: %v, %v", roles, err)
	}
}

func TestTooManyConnections(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{MaxConns: 1, IOTimeout: 5 * time.Second})
	idle, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The idle connection holds the only slot once accepted; a second one
	// is closed without a reply until the first is gone.
	closedAtOnce := func() bool {
		return len(rawExchange(t, srv.Addr().String(), AppendMessage(nil, baseFor(srvA, "g").with(gd(1)).String()))) == 0
	}
	deadline := time.Now().Add(10 * time.Second)
	for !closedAtOnce() {
		if time.Now().After(deadline) {
			t.Fatal("second connection was served while the first held the only slot")
		}
	}
	idle.Close()
	c := newTestClient(t, srv.Addr(), "g2", "1.0", "r", 1)
	if _, err := c.GroupData(context.Background()); err != nil {
		t.Fatalf("after the slot is free: %v", err)
	}
}

func TestRestartMidWait(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "coordinator.json")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	first, err := New(Config{Listen: "127.0.0.1:0", StateFile: state, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := first.Addr()
	runCtx, stopFirst := context.WithCancel(ctx)
	firstDone := make(chan error, 1)
	go func() { firstDone <- first.Run(runCtx) }()

	a := newTestClient(t, addr, "g", "7.0", "server", 2)
	b := newTestClient(t, addr, "g", "7.1", "client", 2)
	aRoles := make(chan error, 1)
	go func() { _, err := a.GroupData(ctx); aRoles <- err }()
	if _, err := b.GroupData(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-aRoles; err != nil {
		t.Fatal(err)
	}
	// b waits for a message nobody sent yet; it must get "wait" before the restart.
	if r, err := b.Request(ctx, NewObject().Set("request", "lava_wait").Set("messageID", "go"), time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("lava_wait before send: %+v, %v", r, err)
	}
	waitDone := make(chan *Reply, 1)
	go func() {
		r, err := b.Wait(ctx, "go", 0)
		if err != nil {
			t.Error(err)
		}
		waitDone <- r
	}()
	stopFirst()
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}

	second := startServer(t, Config{Listen: addr.String(), StateFile: state})
	if second.Groups() != 1 {
		t.Fatalf("state after restart holds %d groups, want 1", second.Groups())
	}
	// No group_size: this only works if the group survived the restart.
	if r, err := a.Send(ctx, "go", NewObject().Set("k", "v"), 0); err != nil || r.Response != "ack" {
		t.Fatalf("send after restart: %+v, %v", r, err)
	}
	r := <-waitDone
	if r == nil || r.Raw != `{"response": "ack", "message": {"7.0": {"k": "v"}}}` {
		t.Fatalf("wait across restart got %+v", r)
	}
}
