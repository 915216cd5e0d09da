package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golava/pkg/events"
	"golava/server/store"
)

// VisibilityConfig tunes NewVisibilityFilter; the zero value works.
type VisibilityConfig struct {
	// TTL is how long a decision is reused (30 s when 0), so a permission
	// change reaches open connections within that time.
	TTL time.Duration
	// MaxEntries bounds the decision cache (100000 when 0); it is emptied
	// when full.
	MaxEntries int
	// Timeout bounds one database check (5 s when 0); a failed check hides
	// the event.
	Timeout time.Duration
}

// Visibility decides which events a WebSocket client may see: a client is
// anonymous or authenticates with an API token (?token=, or the header
// "Authorization: Token <secret>"); it sees only the events of the realm it
// acts in (its token's; the default realm when anonymous), and there worker
// events, and job, device, log events and notices of the jobs and devices
// it may see, as the REST API decides (store.CanViewJobID,
// store.CanViewDeviceNamed). Decisions are
// shared by every connection of the same user, so 1,000 anonymous clients
// cost one query per new job, not 1,000.
type Visibility struct {
	st     *store.Store
	logger *slog.Logger
	cfg    VisibilityConfig

	mu    sync.Mutex
	cache map[visKey]*visEntry

	// recent remembers, per event id, its parsed references and the
	// anonymous decision: 1,000 clients parse and decide each event once.
	recentMu sync.Mutex
	recent   [1024]recentEvent
}

type recentEvent struct {
	id   int64
	refs eventRefs
	anon int8 // 0 unknown, 1 visible, -1 hidden
}

type visKey struct {
	uid    int64
	kind   byte // 'j' job, 'd' device
	realm  string
	object string
	device string // a job's device: its visibility depends on it
}

type visEntry struct {
	done    chan struct{}
	ok      bool
	expires time.Time
}

// NewVisibility returns a Visibility over st.
func NewVisibility(st *store.Store, logger *slog.Logger, cfg VisibilityConfig) *Visibility {
	if cfg.TTL <= 0 {
		cfg.TTL = 30 * time.Second
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 100000
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	return &Visibility{st: st, logger: logger, cfg: cfg, cache: map[visKey]*visEntry{}}
}

// WorkerHeader names the worker whose token is in the LAVA-Token header:
// a lava-worker listening to /ws/ to wake up sends both.
const WorkerHeader = "LAVA-Worker"

// Filter is the WSFilter: it authenticates the request and returns the
// client's event filter. An unknown or inactive token is refused (403).
func (v *Visibility) Filter(r *http.Request) (func(events.Event) bool, error) {
	if name := r.Header.Get(WorkerHeader); name != "" {
		return v.workerFilter(r, name)
	}
	secret := RequestToken(r)
	var user *store.User
	if secret != "" {
		u, err := v.st.UserByToken(r.Context(), secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("invalid token")
		case err != nil:
			return nil, fmt.Errorf("authenticate: %w", err)
		case !u.IsActive:
			return nil, fmt.Errorf("user %s is inactive", u.Username)
		}
		user = u
	}
	return func(e events.Event) bool { return v.Allowed(e, user) }, nil
}

// eventRealm is the name of e's realm ("" is the default realm).
func eventRealm(e events.Event) string {
	if e.Realm == "" {
		return store.DefaultRealmName
	}
	return e.Realm
}

// workerFilter authenticates a worker (its name and worker token, as on the
// worker API): in its own realm only, it sees what anonymous clients would,
// and every event of its own jobs and devices, private or not, so it wakes
// up for all of them.
func (v *Visibility) workerFilter(r *http.Request, name string) (func(events.Event) bool, error) {
	w, err := v.st.AuthWorker(r.Context(), 0, name, r.Header.Get("LAVA-Token"))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidToken) {
			return nil, fmt.Errorf("invalid worker credentials")
		}
		return nil, fmt.Errorf("authenticate worker: %w", err)
	}
	realm, err := v.st.RealmByID(r.Context(), w.RealmID)
	if err != nil {
		return nil, fmt.Errorf("authenticate worker: %w", err)
	}
	return func(e events.Event) bool {
		if eventRealm(e) != realm.Name {
			return false
		}
		if e.Topic == events.TopicTestJob || e.Topic == events.TopicDevice {
			var d struct {
				Worker *string `json:"worker"`
			}
			if json.Unmarshal([]byte(e.Data), &d) == nil && d.Worker != nil && *d.Worker == name {
				return true
			}
		}
		return v.allowedIn(e, nil, realm.Name)
	}, nil
}

// RequestToken returns the API token of a request: ?token=, or the
// Authorization header "Token <secret>" (LAVA REST) or "Bearer <secret>".
func RequestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Token ", "Bearer "} {
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			return strings.TrimSpace(h[len(scheme):])
		}
	}
	return ""
}

// eventRefs is what an event's data says about its objects.
type eventRefs struct {
	Job    json.RawMessage `json:"job"`
	Device *string         `json:"device"`
}

// Allowed reports whether user (nil: anonymous) may see e: an event of the
// realm the user acts in (user.Realm, the default realm when anonymous or
// unset), that the user may see there.
func (v *Visibility) Allowed(e events.Event, user *store.User) bool {
	realm := store.DefaultRealmName
	if user != nil && user.Realm != "" {
		realm = user.Realm
	}
	return v.allowedIn(e, user, realm)
}

// allowedIn is Allowed for a user acting in the realm named realm.
func (v *Visibility) allowedIn(e events.Event, user *store.User, realm string) bool {
	if eventRealm(e) != realm {
		return false
	}
	if user != nil && user.IsSuperuser {
		return true
	}
	switch e.Topic {
	case events.TopicWorker:
		return true
	case events.TopicTestJob, events.TopicDevice, events.TopicEvent, events.TopicNotice:
	default:
		return false
	}
	refs, anon, ok := v.recentRefs(e)
	if !ok {
		return false
	}
	if user == nil && anon != 0 {
		return anon > 0
	}
	allowed := v.decideRefs(e, refs, user)
	if user == nil {
		v.recentMu.Lock()
		if slot := &v.recent[e.ID&1023]; slot.id == e.ID && e.ID != 0 {
			slot.anon = -1
			if allowed {
				slot.anon = 1
			}
		}
		v.recentMu.Unlock()
	}
	return allowed
}

// recentRefs parses e's references once per event id.
func (v *Visibility) recentRefs(e events.Event) (eventRefs, int8, bool) {
	v.recentMu.Lock()
	if slot := &v.recent[e.ID&1023]; slot.id == e.ID && e.ID != 0 {
		refs, anon := slot.refs, slot.anon
		v.recentMu.Unlock()
		return refs, anon, true
	}
	v.recentMu.Unlock()
	var refs eventRefs
	if err := json.Unmarshal([]byte(e.Data), &refs); err != nil {
		return refs, 0, false
	}
	if e.ID != 0 {
		v.recentMu.Lock()
		v.recent[e.ID&1023] = recentEvent{id: e.ID, refs: refs}
		v.recentMu.Unlock()
	}
	return refs, 0, true
}

// decideRefs applies the rules to an event's references.
func (v *Visibility) decideRefs(e events.Event, refs eventRefs, user *store.User) bool {
	device := ""
	if refs.Device != nil {
		device = *refs.Device
	}
	var uid int64
	if user != nil {
		uid = user.ID
	}
	if e.Topic == events.TopicDevice && device != "" {
		if !v.decide(visKey{uid: uid, kind: 'd', realm: e.Realm, object: device}, user) {
			return false
		}
	}
	if len(refs.Job) == 0 || string(refs.Job) == "null" {
		return e.Topic == events.TopicDevice
	}
	id, ok := jobRefID(refs.Job)
	if !ok {
		return false
	}
	return v.decide(visKey{uid: uid, kind: 'j', object: strconv.FormatInt(id, 10), device: device}, user)
}

// jobRefID reads a job reference: a number, or a MultiNode "N.M" string.
func jobRefID(raw json.RawMessage) (int64, bool) {
	s := string(raw)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, false
		}
		s, _, _ = strings.Cut(s, ".")
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// decide answers from the cache or asks the database once per key, while
// concurrent askers wait for that answer.
func (v *Visibility) decide(k visKey, user *store.User) bool {
	now := time.Now()
	v.mu.Lock()
	e, hit := v.cache[k]
	if hit && e.expires.IsZero() || hit && now.Before(e.expires) {
		v.mu.Unlock()
		<-e.done
		return e.ok
	}
	if len(v.cache) >= v.cfg.MaxEntries {
		clear(v.cache)
	}
	e = &visEntry{done: make(chan struct{})}
	v.cache[k] = e
	v.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), v.cfg.Timeout)
	defer cancel()
	var err error
	if k.kind == 'd' {
		e.ok, err = v.st.CanViewDeviceNamed(ctx, k.realm, k.object, user)
	} else {
		id, _ := strconv.ParseInt(k.object, 10, 64)
		e.ok, err = v.st.CanViewJobID(ctx, id, user)
	}
	v.mu.Lock()
	if err != nil {
		v.logger.Warn("event visibility check failed; event hidden", slog.Any("error", err))
		e.expires = now // retried by the next event
	} else {
		e.expires = now.Add(v.cfg.TTL)
	}
	v.mu.Unlock()
	close(e.done)
	return e.ok
}
