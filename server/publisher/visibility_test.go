package publisher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"golava/pkg/jobdef"
	"golava/server/publisher"
	"golava/server/store"
	"golava/server/store/storetest"
)

// visLab is a database with users of every kind and their tokens.
type visLab struct {
	st                  *store.Store
	alice, bob, carol   *store.User
	root                *store.User
	aliceTok, bobTok    string
	carolTok, rootTok   string
	publicJob, personal int64
	groupJob            int64
}

func newVisLab(t *testing.T) *visLab {
	t.Helper()
	ctx := context.Background()
	l := &visLab{st: storetest.New(t)}
	exec := func(q string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := l.st.Pool().QueryRow(ctx, q, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	user := func(name string, su bool) (*store.User, string) {
		id := exec(`INSERT INTO users (username, is_superuser) VALUES ($1, $2) RETURNING id`, name, su)
		if err := l.st.AddRealmMember(ctx, store.DefaultRealm, id); err != nil {
			t.Fatal(err)
		}
		u := &store.User{ID: id, Username: name, IsSuperuser: su, IsActive: true, RealmID: store.DefaultRealm, Realm: "default"}
		tok, _, err := l.st.CreateToken(ctx, id, store.DefaultRealm, "events")
		if err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	l.alice, l.aliceTok = user("alice", false)
	l.bob, l.bobTok = user("bob", false)
	l.carol, l.carolTok = user("carol", false)
	l.root, l.rootTok = user("root", true)
	gid := exec(`INSERT INTO groups (name) VALUES ('lab') RETURNING id`)
	exec(`INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2) RETURNING user_id`, l.bob.ID, gid)
	dt := exec(`INSERT INTO device_types (realm_id, name) VALUES (1, 'qemu') RETURNING id`)
	exec(`INSERT INTO devices (realm_id, hostname, device_type_id, health) VALUES (1, 'qemu-01', $1, 'Good') RETURNING id`, dt)
	secret := exec(`INSERT INTO devices (realm_id, hostname, device_type_id, health) VALUES (1, 'secret-01', $1, 'Good') RETURNING id`, dt)
	exec(`INSERT INTO device_permissions (device_id, group_id, permission) VALUES ($1, $2, 'view') RETURNING device_id`, secret, gid)
	return l
}

func (l *visLab) submit(t *testing.T, visibility string) int64 {
	t.Helper()
	def := "job_name: visibility test\ndevice_type: qemu\nvisibility: " + visibility +
		"\ntimeouts:\n  job: {minutes: 10}\nactions:\n- boot:\n    method: minimal\n"
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	ids, err := l.st.SubmitJob(context.Background(), store.DefaultRealm, l.alice, def, job)
	if err != nil {
		t.Fatalf("submit %s: %v", visibility, err)
	}
	return ids[0]
}

// jobTransitions reads frames until the worker event named end and returns
// "job:state" for every testjob event.
func jobTransitions(t *testing.T, c *wsClient, end string) []string {
	t.Helper()
	var out []string
	for {
		p, _ := parts(t, c.next(t))
		var data struct {
			Job      json.RawMessage `json:"job"`
			State    string          `json:"state"`
			Hostname string          `json:"hostname"`
			Device   string          `json:"device"`
		}
		if err := json.Unmarshal([]byte(p[4]), &data); err != nil {
			t.Fatalf("data %q: %v", p[4], err)
		}
		if strings.HasSuffix(p[0], ".device") {
			out = append(out, "device:"+data.Device)
		}
		if strings.HasSuffix(p[0], ".worker") && data.Hostname == end {
			return out
		}
		if strings.HasSuffix(p[0], ".testjob") {
			out = append(out, string(data.Job)+":"+data.State)
		}
	}
}

// Acceptance 2: a ZMQ subscriber and WebSocket clients see the same events
// of a job in order, and a private job's events reach only allowed clients.
func TestEventVisibility(t *testing.T) {
	t.Parallel()
	l := newVisLab(t)
	h := publisher.NewHub(l.st, testLogger(t), publisher.HubConfig{ZMQListen: "tcp://127.0.0.1:0"})
	hubRun(t, h)
	vis := publisher.NewVisibility(l.st, testLogger(t), publisher.VisibilityConfig{})
	srv := httptest.NewServer(h.WSHandlerFiltered(vis.Filter))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"
	sub := zmqSub(t, h.ZMQAddr())
	for got := false; !got; {
		insertEvent(t, l.st, "worker", "lavaserver", `{"hostname": "warm-up"}`)
		got = recvZMQ(t, sub, 200*time.Millisecond) != nil
	}

	t.Run("bad token refused", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/ws/?token=nope")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})

	_, workerTok, err := l.st.CreateWorker(context.Background(), store.DefaultRealm, "w1", "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(&http.Request{Method: "GET", URL: mustURL(t, srv.URL+"/ws/"),
		Header: http.Header{publisher.WorkerHeader: {"w1"}, "Lava-Token": {"wrong"}}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong worker token: status %d, want 403", resp.StatusCode)
	}
	clients := map[string]*wsClient{
		"worker":    dialHeaders(t, url, http.Header{publisher.WorkerHeader: {"w1"}, "LAVA-Token": {workerTok}}),
		"anonymous": dialWS(t, url),
		"alice":     dialWS(t, url+"?token="+l.aliceTok),
		"bob":       dialHeaders(t, url, http.Header{"Authorization": {"Token " + l.bobTok}}),
		"carol":     dialWS(t, url+"?token="+l.carolTok),
		"root":      dialWS(t, url+"?token="+l.rootTok),
	}
	eventually(t, "subscribers", func() bool { return h.Stats().Subscribers == len(clients) })
	for len(sub) > 0 {
		<-sub
	}

	pub, personal, group := l.submit(t, "public"), l.submit(t, "personal"), l.submit(t, "{group: [lab]}")
	for _, id := range []int64{pub, personal, group} {
		if err := l.st.CancelJob(context.Background(), store.DefaultRealm, id, l.alice); err != nil {
			t.Fatalf("cancel %d: %v", id, err)
		}
	}
	// The personal job on w1's device: its worker sees it, anonymous clients do not.
	insertEvent(t, l.st, "testjob", "alice", fmt.Sprintf(`{"health": "Unknown", "state": "Scheduled", "job": %d, "device": "qemu-01", "worker": "w1"}`, personal))
	// A device only the lab group may view.
	insertEvent(t, l.st, "device", "lavaserver", `{"health": "Good", "state": "Idle", "device": "secret-01", "device_type": "qemu", "worker": null}`)
	insertEvent(t, l.st, "worker", "lavaserver", `{"hostname": "end"}`)

	trans := func(ids ...int64) []string {
		var out []string
		for _, state := range []string{"Submitted", "Finished"} {
			for _, id := range ids {
				out = append(out, strconv.FormatInt(id, 10)+":"+state)
			}
		}
		return out
	}
	scheduled := strconv.FormatInt(personal, 10) + ":Scheduled"
	all := append(trans(pub, personal, group), scheduled)
	want := map[string][]string{
		"anonymous": trans(pub),
		"alice":     all,
		"bob":       append(trans(pub, group), "device:secret-01"),
		"carol":     trans(pub),
		"root":      append(all, "device:secret-01"),
		"worker":    append(trans(pub), scheduled),
	}
	// What ZMQ (which has no authentication, as LAVA's) carried.
	var zmqSeen []string
	for {
		f := recvZMQ(t, sub, 20*time.Second)
		if f == nil {
			t.Fatal("zmq: no end marker")
		}
		var data struct {
			Job      json.RawMessage `json:"job"`
			State    string          `json:"state"`
			Hostname string          `json:"hostname"`
		}
		if err := json.Unmarshal(f[4], &data); err != nil {
			t.Fatal(err)
		}
		if data.Hostname == "end" {
			break
		}
		if strings.HasSuffix(string(f[0]), ".testjob") {
			zmqSeen = append(zmqSeen, string(data.Job)+":"+data.State)
		}
	}
	if strings.Join(zmqSeen, " ") != strings.Join(all, " ") {
		t.Fatalf("zmq saw %v, want %v", zmqSeen, all)
	}
	for name, c := range clients {
		if got := jobTransitions(t, c, "end"); strings.Join(got, " ") != strings.Join(want[name], " ") {
			t.Errorf("%s saw %v, want %v", name, got, want[name])
		}
	}
}

// dialHeaders connects with request headers (credentials).
func dialHeaders(t *testing.T, url string, h http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("dial with headers: %v", err)
	}
	w := &wsClient{conn: c, msgs: make(chan []byte, 1000), done: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.done <- err
				return
			}
			w.msgs <- b
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func mustURL(t *testing.T, s string) *neturl.URL {
	t.Helper()
	u, err := neturl.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
