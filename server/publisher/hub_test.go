package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"golava/pkg/events"
	"golava/server/publisher"
	"golava/server/store/storetest"
)

// zmqSub connects a SUB socket to addr and forwards messages to a channel.
func zmqSub(t testing.TB, addr string) chan [][]byte {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sub := zmq4.NewSub(ctx)
	if err := sub.Dial(addr); err != nil {
		t.Fatal(err)
	}
	if err := sub.SetOption(zmq4.OptionSubscribe, ""); err != nil {
		t.Fatal(err)
	}
	ch := make(chan [][]byte, 10000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := sub.Recv()
			if err != nil {
				return
			}
			ch <- m.Frames
		}
	}()
	t.Cleanup(func() { cancel(); sub.Close(); <-done })
	return ch
}

func recvZMQ(t testing.TB, ch chan [][]byte, within time.Duration) [][]byte {
	t.Helper()
	select {
	case f := <-ch:
		return f
	case <-time.After(within):
		return nil
	}
}

func TestEventsReachWebSocketAndZMQInOrder(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{ZMQListen: "tcp://127.0.0.1:0"})
	hubRun(t, h)
	url := startWS(t, h)
	sub := zmqSub(t, h.ZMQAddr())

	// ZMQ subscriptions reach the PUB side asynchronously (the "slow
	// joiner"): publish warm-up events until one arrives.
	var warm events.Event
	for got := false; !got; {
		warm = insertEvent(t, st, "worker", "lavaserver", `{"hostname": "warm-up"}`)
		got = recvZMQ(t, sub, 200*time.Millisecond) != nil
	}
	eventually(t, "warm-up published", func() bool { return h.LastID() >= warm.ID })
	for len(sub) > 0 {
		<-sub
	}
	live := dialWS(t, url)
	resumed := dialWS(t, url+"?since="+strconv.FormatInt(warm.ID, 10)+"&ids=1")

	first := insertEvent(t, st, "device", "lavaserver", `{"health": "Good", "state": "Idle", "device": "qemu01", "device_type": "qemu", "worker": null}`)
	want := fmt.Sprintf(`["org.lavasoftware.device", %q, %q, "lavaserver", "{\"health\": \"Good\", \"state\": \"Idle\", \"device\": \"qemu01\", \"device_type\": \"qemu\", \"worker\": null}"]`,
		first.UUID, events.PyISOTime(first.Time))
	if got := string(live.next(t)); got != want {
		t.Fatalf("websocket frame\n got  %s\n want %s", got, want)
	}
	if got := string(resumed.next(t)); got != strings.TrimSuffix(want, "]")+", "+strconv.FormatInt(first.ID, 10)+"]" {
		t.Fatalf("websocket frame with id\n got  %s", got)
	}
	frames := recvZMQ(t, sub, 20*time.Second)
	wantFrames := first.Frames(events.DefaultPrefix)
	if len(frames) != 5 {
		t.Fatalf("zmq frames %q", frames)
	}
	for i := range wantFrames {
		if string(frames[i]) != string(wantFrames[i]) {
			t.Fatalf("zmq frame %d = %q, want %q", i, frames[i], wantFrames[i])
		}
	}

	// Many events, mixed topics, arrive in id order everywhere.
	const n = 300
	topics := []string{"testjob", "device", "worker", "event"}
	var sent []events.Event
	for i := range n {
		sent = append(sent, insertEvent(t, st, topics[i%4], "user"+strconv.Itoa(i%3), deviceData(i)))
	}
	for i, ev := range sent {
		wantParts := []string{"org.lavasoftware." + ev.Topic, ev.UUID, events.PyISOTime(ev.Time), ev.Username, ev.Data}
		for _, c := range []*wsClient{live, resumed} {
			got, _ := parts(t, c.next(t))
			if strings.Join(got, "\x00") != strings.Join(wantParts, "\x00") {
				t.Fatalf("event %d: websocket got %q, want %q", i, got, wantParts)
			}
		}
		f := recvZMQ(t, sub, 20*time.Second)
		if f == nil || string(f[1]) != ev.UUID || string(f[0]) != wantParts[0] {
			t.Fatalf("event %d: zmq got %q, want uuid %s", i, f, ev.UUID)
		}
	}
}

func TestSlowClientIsDroppedOthersGetEverything(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{Buffer: 16, WSWriteTimeout: 2 * time.Second})
	hubRun(t, h)
	url := startWS(t, h)
	good := dialWS(t, url)
	// The bad client never reads: its socket buffers fill, its writer
	// blocks, and the hub's ring overtakes it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bad, _, err := websocketDial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.CloseNow()
	eventually(t, "two subscribers", func() bool { return h.Stats().Subscribers == 2 })

	big := `{"message": "` + strings.Repeat("x", 32<<10) + `", "job": 1}`
	const n = 400
	var sent []events.Event
	for range n {
		sent = append(sent, insertEvent(t, st, "event", "lavaserver", big))
	}
	for i, ev := range sent {
		got, _ := parts(t, good.next(t))
		if got[1] != ev.UUID {
			t.Fatalf("good client event %d: uuid %s, want %s", i, got[1], ev.UUID)
		}
	}
	eventually(t, "the slow client dropped", func() bool {
		s := h.Stats()
		return s.Dropped == 1 && s.Subscribers == 1
	})
}

func TestResumeFromID(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	// History written before the hub starts, more than its buffer holds.
	var old []events.Event
	for i := range 10 {
		old = append(old, insertEvent(t, st, "device", "lavaserver", deviceData(i)))
	}
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{Buffer: 4})
	hubRun(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sub, err := h.Subscribe(ctx, old[2].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var live []events.Event
	for i := range 10 {
		live = append(live, insertEvent(t, st, "worker", "lavaserver", fmt.Sprintf(`{"n": %d}`, i)))
	}
	want := append(append([]events.Event{}, old[3:]...), live...)
	for i, ev := range want {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if m.Event.ID != ev.ID || m.Event.UUID != ev.UUID || m.Event.Data != ev.Data {
			t.Fatalf("event %d: got id %d %s, want id %d %s", i, m.Event.ID, m.Event.Data, ev.ID, ev.Data)
		}
	}

	// Over WebSocket, from an id older than the ring, with a filter-free handler.
	url := startWS(t, h)
	c := dialWS(t, url+"?since="+strconv.FormatInt(live[1].ID, 10)+"&ids=1")
	for _, ev := range live[2:] {
		got, id := parts(t, c.next(t))
		if id != ev.ID || got[1] != ev.UUID {
			t.Fatalf("resumed websocket got id %d uuid %s, want %d %s", id, got[1], ev.ID, ev.UUID)
		}
	}
	if _, err := h.Subscribe(ctx, 0, func(e events.Event) bool { return e.Topic == "worker" }); err != nil {
		t.Fatal(err)
	}
}

func TestFilter(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{})
	hubRun(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := h.Subscribe(ctx, publisher.FromNow, func(e events.Event) bool { return e.Topic == "worker" })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	insertEvent(t, st, "device", "lavaserver", deviceData(1))
	w := insertEvent(t, st, "worker", "lavaserver", `{"hostname": "w1"}`)
	m, err := sub.Next(ctx)
	if err != nil || m.Event.ID != w.ID {
		t.Fatalf("filtered Next = %+v, %v; want the worker event %d", m, err, w.ID)
	}
}

func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	pull := zmq4.NewPull(context.Background())
	if err := pull.Listen("tcp://127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	pullAddr := "tcp://" + pull.Addr().(*net.TCPAddr).String()

	first := publisher.NewHub(st, testLogger(t), publisher.HubConfig{})
	stopFirst := hubRun(t, first)
	e1 := insertEvent(t, st, "device", "lavaserver", deviceData(1))
	eventually(t, "first hub publishes e1", func() bool { return first.LastID() == e1.ID })
	stopFirst()
	last := first.LastID()

	// Written while no publisher runs.
	var down []events.Event
	for i := range 5 {
		down = append(down, insertEvent(t, st, "testjob", "alice", fmt.Sprintf(`{"job": %d}`, i)))
	}
	second := publisher.NewHub(st, testLogger(t), publisher.HubConfig{StartAfter: last, ZMQPush: []string{pullAddr}})
	hubRun(t, second)
	recv := make(chan zmq4.Msg, 10)
	go func() {
		for range down {
			m, err := pull.Recv()
			if err != nil {
				return
			}
			recv <- m
		}
	}()
	for i, ev := range down {
		select {
		case m := <-recv:
			if string(m.Frames[1]) != ev.UUID || string(m.Frames[3]) != "alice" {
				t.Fatalf("push %d: frames %q, want uuid %s", i, m.Frames, ev.UUID)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("event %d written while down never pushed", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := second.Subscribe(ctx, last, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, ev := range down {
		m, err := sub.Next(ctx)
		if err != nil || m.Event.ID != ev.ID {
			t.Fatalf("resume after restart: %+v, %v; want %d", m, err, ev.ID)
		}
	}
}

// TestUncommittedIDHoldsBackLaterEvents: ids come from a sequence, so a later
// id can commit first; the hub must not step over the earlier one.
func TestUncommittedIDHoldsBackLaterEvents(t *testing.T) {
	t.Parallel()
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{GapTimeout: time.Minute})
	hubRun(t, h)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub, err := h.Subscribe(ctx, publisher.FromNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	slow, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	var slowID int64
	if err := slow.QueryRow(ctx, `INSERT INTO events (realm_id, topic, username, data) VALUES (1, 'device', 'lavaserver', '{"slow": true}') RETURNING id`).Scan(&slowID); err != nil {
		t.Fatal(err)
	}
	fast := insertEvent(t, st, "device", "lavaserver", `{"fast": true}`)
	eventually(t, "the hub to wait on the missing id", func() bool { return h.Stats().WaitingGap })
	short, shortCancel := context.WithTimeout(ctx, 300*time.Millisecond)
	if m, err := sub.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delivered %+v (%v) while id %d is uncommitted", m, err, slowID)
	}
	shortCancel()
	if _, err := slow.Exec(ctx, `SELECT pg_notify('lava_events', $1)`, strconv.FormatInt(slowID, 10)); err != nil {
		t.Fatal(err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{slowID, fast.ID} {
		m, err := sub.Next(ctx)
		if err != nil || m.Event.ID != id {
			t.Fatalf("got %+v, %v; want id %d", m, err, id)
		}
	}

	// A rolled-back id is a permanent gap: settled as soon as its
	// transaction ended, long before GapTimeout.
	gone, err := st.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gone.Exec(ctx, `INSERT INTO events (realm_id, topic, username, data) VALUES (1, 'device', 'lavaserver', '{}')`); err != nil {
		t.Fatal(err)
	}
	if err := gone.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	after := insertEvent(t, st, "worker", "lavaserver", `{"after": true}`)
	m, err := sub.Next(ctx)
	if err != nil || m.Event.ID != after.ID {
		t.Fatalf("after a rolled-back id: %+v, %v", m, err)
	}
}
