package publisher_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golava/pkg/jobdef"
	"golava/server/publisher"
	"golava/server/store"
	"golava/server/store/storetest"
)

// realmLab is the default realm and realms alpha and beta, each with a
// device type, a device and a public job; alice is a member of alpha, bob of
// beta, carol of alpha too, root a superuser whose token acts in alpha.
type realmLab struct {
	st               *store.Store
	alpha, beta      *store.Realm
	alice, bob       *store.User
	root, carol      *store.User
	aliceTok, bobTok string
	rootTok          string
	carolTok         string
	workerTok        string // worker "wb" of beta
}

func newRealmLab(t *testing.T) *realmLab {
	t.Helper()
	ctx := context.Background()
	l := &realmLab{st: storetest.New(t)}
	id := func(q string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := l.st.Pool().QueryRow(ctx, q, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	var err error
	if l.alpha, err = l.st.CreateRealm(ctx, "alpha", ""); err != nil {
		t.Fatal(err)
	}
	if l.beta, err = l.st.CreateRealm(ctx, "beta", ""); err != nil {
		t.Fatal(err)
	}
	user := func(name string, su bool, realm *store.Realm) (*store.User, string) {
		t.Helper()
		uid := id(`INSERT INTO users (username, is_superuser) VALUES ($1, $2) RETURNING id`, name, su)
		if !su {
			if err := l.st.AddRealmMember(ctx, realm.ID, uid); err != nil {
				t.Fatal(err)
			}
		}
		tok, _, err := l.st.CreateToken(ctx, uid, realm.ID, "events")
		if err != nil {
			t.Fatal(err)
		}
		return &store.User{ID: uid, Username: name, IsSuperuser: su, IsActive: true}, tok
	}
	l.alice, l.aliceTok = user("alice", false, l.alpha)
	l.bob, l.bobTok = user("bob", false, l.beta)
	l.root, l.rootTok = user("root", true, l.alpha)
	l.carol, l.carolTok = user("carol", false, l.alpha)
	if _, _, err := l.st.CreateToken(ctx, l.alice.ID, l.beta.ID, "not a member"); err == nil {
		t.Fatal("alice got a token for beta without being a member")
	}
	if _, l.workerTok, err = l.st.CreateWorker(ctx, l.beta.ID, "wb", ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range []int64{store.DefaultRealm, l.alpha.ID, l.beta.ID} {
		dt := id(`INSERT INTO device_types (realm_id, name) VALUES ($1, 'qemu') RETURNING id`, r)
		id(`INSERT INTO devices (realm_id, hostname, device_type_id, health) VALUES ($1, 'qemu-01', $2, 'Good') RETURNING id`, r, dt)
	}
	return l
}

const realmJob = "job_name: realm test\ndevice_type: qemu\nvisibility: VIS\n" +
	"timeouts:\n  job: {minutes: 10}\nactions:\n- boot:\n    method: minimal\n"

// submitCancel submits a job in the realm and cancels it while queued:
// Submitted, then Finished with its notice.
func (l *realmLab) submitCancel(t *testing.T, realmID int64, u *store.User, visibility string) int64 {
	t.Helper()
	ctx := context.Background()
	def := strings.Replace(realmJob, "VIS", visibility, 1)
	job, err := jobdef.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := l.st.SubmitJob(ctx, realmID, u, def, job)
	if err != nil {
		t.Fatalf("submit in realm %d: %v", realmID, err)
	}
	if err := l.st.CancelJob(ctx, realmID, ids[0], u); err != nil {
		t.Fatalf("cancel %d: %v", ids[0], err)
	}
	return ids[0]
}

// realmWorkerEvent writes a .worker event of the realm, the end marker.
func realmWorkerEvent(t *testing.T, st *store.Store, realmID int64, hostname string) {
	t.Helper()
	_, err := st.Pool().Exec(context.Background(), `WITH e AS (INSERT INTO events (realm_id, topic, username, data)
VALUES ($1, 'worker', 'lavaserver', '{"hostname": "' || $2::text || '", "health": "Active", "state": "Online"}') RETURNING id)
SELECT pg_notify('lava_events', e.id::text) FROM e`, realmID, hostname)
	if err != nil {
		t.Fatal(err)
	}
}

// seen reads frames until the worker event "end" and returns
// "<topic>:<job or hostname>" of each.
func seen(t *testing.T, c *wsClient) []string {
	t.Helper()
	var out []string
	for {
		p, _ := parts(t, c.next(t))
		var data struct {
			Job      json.RawMessage `json:"job"`
			Realm    string          `json:"realm"`
			Hostname string          `json:"hostname"`
		}
		if err := json.Unmarshal([]byte(p[4]), &data); err != nil {
			t.Fatalf("data %q: %v", p[4], err)
		}
		if data.Hostname == "end" {
			return out
		}
		ref := string(data.Job)
		if data.Hostname != "" {
			ref = data.Hostname
		}
		if strings.HasSuffix(p[0], ".notice") {
			ref += "@" + data.Realm
		}
		out = append(out, p[0]+":"+ref)
	}
}

// Each WebSocket subscriber sees only the realm it acts in, notices
// included; ZMQ sockets carry one realm each: the main one the default
// realm, a realm's own socket its events under its topic prefix.
func TestRealmIsolation(t *testing.T) {
	t.Parallel()
	l := newRealmLab(t)
	h := publisher.NewHub(l.st, testLogger(t), publisher.HubConfig{ZMQListen: "tcp://127.0.0.1:0",
		ZMQRealms: map[string]string{"beta": "tcp://127.0.0.1:0"}})
	hubRun(t, h)
	vis := publisher.NewVisibility(l.st, testLogger(t), publisher.VisibilityConfig{})
	srv := httptest.NewServer(h.WSHandlerFiltered(vis.Filter))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/"

	if h.ZMQRealmAddr("alpha") != "" || h.ZMQRealmAddr("default") != h.ZMQAddr() || h.ZMQRealmAddr("beta") == "" {
		t.Fatalf("realm sockets: default %q alpha %q beta %q", h.ZMQRealmAddr("default"), h.ZMQRealmAddr("alpha"), h.ZMQRealmAddr("beta"))
	}
	all := zmqSub(t, h.ZMQAddr())
	betaOnly := zmqSub(t, h.ZMQRealmAddr("beta"))
	for got := false; !got; { // the slow joiner: wait until both subscriptions work
		realmWorkerEvent(t, l.st, store.DefaultRealm, "warm-up")
		realmWorkerEvent(t, l.st, l.beta.ID, "warm-up")
		a, b := recvZMQ(t, all, 200*time.Millisecond), recvZMQ(t, betaOnly, 200*time.Millisecond)
		got = a != nil && b != nil
	}
	clients := map[string]*wsClient{
		"anonymous": dialWS(t, url),
		"alice":     dialWS(t, url+"?token="+l.aliceTok),
		"bob":       dialHeaders(t, url, http.Header{"Authorization": {"Token " + l.bobTok}}),
		"root":      dialWS(t, url+"?token="+l.rootTok),
		"carol":     dialWS(t, url+"?token="+l.carolTok),
		"worker":    dialHeaders(t, url, http.Header{publisher.WorkerHeader: {"wb"}, "LAVA-Token": {l.workerTok}}),
	}
	eventually(t, "subscribers", func() bool { return h.Stats().Subscribers == len(clients) })
	for len(all) > 0 {
		<-all
	}
	for len(betaOnly) > 0 {
		<-betaOnly
	}

	root := l.root.InRealm(&store.Realm{ID: store.DefaultRealm, Name: "default"})
	dj := l.submitCancel(t, store.DefaultRealm, root, "public")
	aj := l.submitCancel(t, l.alpha.ID, l.alice, "public")
	bj := l.submitCancel(t, l.beta.ID, l.bob, "public")
	private := l.submitCancel(t, l.alpha.ID, l.alice, "personal")
	for _, r := range []int64{store.DefaultRealm, l.alpha.ID, l.beta.ID} {
		realmWorkerEvent(t, l.st, r, "end")
	}

	job := func(prefix string, id int64, realm string) []string {
		n := itoa(id)
		return []string{prefix + "testjob:" + n, prefix + "testjob:" + n, prefix + "notice:" + n + "@" + realm}
	}
	want := map[string][]string{
		"anonymous": job("org.lavasoftware.", dj, "default"),
		"alice":     append(job("org.lavasoftware.alpha.", aj, "alpha"), job("org.lavasoftware.alpha.", private, "alpha")...),
		"root":      append(job("org.lavasoftware.alpha.", aj, "alpha"), job("org.lavasoftware.alpha.", private, "alpha")...),
		"carol":     job("org.lavasoftware.alpha.", aj, "alpha"), // not alice's personal job, nor its notice
		"bob":       job("org.lavasoftware.beta.", bj, "beta"),
		"worker":    job("org.lavasoftware.beta.", bj, "beta"),
	}
	for name, c := range clients {
		if got := seen(t, c); !slices.Equal(got, want[name]) {
			t.Errorf("%s saw %v, want %v", name, got, want[name])
		}
	}

	// ZMQ: the main socket has the default realm only; beta's socket beta's
	// events only, under its prefix; alpha, without a socket, is on /ws/ only.
	topics := func(ch chan [][]byte, ends int) []string {
		var out []string
		for ends > 0 {
			f := recvZMQ(t, ch, 20*time.Second)
			if f == nil {
				t.Fatalf("zmq: %d end markers missing after %v", ends, out)
			}
			if strings.Contains(string(f[4]), `"end"`) {
				ends--
				continue
			}
			out = append(out, string(f[0]))
		}
		return out
	}
	wantDefault := []string{"org.lavasoftware.testjob", "org.lavasoftware.testjob", "org.lavasoftware.notice"}
	wantBeta := []string{"org.lavasoftware.beta.testjob", "org.lavasoftware.beta.testjob", "org.lavasoftware.beta.notice"}
	if got := topics(all, 1); !slices.Equal(got, wantDefault) {
		t.Errorf("main zmq socket %v, want %v", got, wantDefault)
	}
	if got := topics(betaOnly, 1); !slices.Equal(got, wantBeta) {
		t.Errorf("beta's zmq socket %v, want %v", got, wantBeta)
	}

	// A token of a realm the user left is refused.
	if err := l.st.RemoveRealmMember(context.Background(), l.alpha.ID, l.alice.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(srv.URL + "/ws/?token=" + l.aliceTok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token of a realm alice left: status %d, want 403", resp.StatusCode)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
