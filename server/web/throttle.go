package web

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// loginThrottle refuses logins for a username or a client address after
// too many recent failures, so passwords cannot be guessed at web speed.
type loginThrottle struct {
	mu    sync.Mutex
	fails map[string][]time.Time
}

const (
	maxLoginFailures = 10
	loginWindow      = 5 * time.Minute
	// maxThrottleKeys bounds the map; past it, stale keys are dropped.
	maxThrottleKeys = 10000
)

func throttleKeys(r *http.Request, username string) []string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return []string{"user:" + strings.ToLower(username), "addr:" + host}
}

// recent drops failures older than the window; callers hold mu.
func (l *loginThrottle) recent(key string, now time.Time) []time.Time {
	ts := l.fails[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > loginWindow {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = ts
	return ts
}

func (l *loginThrottle) blocked(keys []string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		if len(l.recent(k, now)) >= maxLoginFailures {
			return true
		}
	}
	return false
}

func (l *loginThrottle) fail(keys []string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fails == nil {
		l.fails = map[string][]time.Time{}
	}
	if len(l.fails) > maxThrottleKeys {
		for k := range l.fails {
			l.recent(k, now)
		}
	}
	for _, k := range keys {
		if len(l.fails) < 2*maxThrottleKeys {
			l.fails[k] = append(l.recent(k, now), now)
		}
	}
}

func (l *loginThrottle) reset(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys[:1] { // the address may be shared by others
		delete(l.fails, k)
	}
}
