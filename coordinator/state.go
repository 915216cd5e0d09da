package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

const stateVersion = 1

type stateFile struct {
	Version int      `json:"version"`
	Groups  []*group `json:"groups"`
}

// loadState reads the state file; a missing file is an empty state.
func loadState(path string) (map[string]*group, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*group{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read coordinator state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse coordinator state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("coordinator state %s: version %d, want %d", path, st.Version, stateVersion)
	}
	groups := make(map[string]*group, len(st.Groups))
	for _, g := range st.Groups {
		if g == nil || g.Name == "" {
			continue
		}
		if g.Syncs == nil {
			g.Syncs = map[string]map[string]bool{}
		}
		if g.Messages == nil {
			g.Messages = map[string]*Object{}
		}
		if g.Waits == nil {
			g.Waits = map[string]*waitEntry{}
		}
		for id, w := range g.Waits {
			if w == nil {
				delete(g.Waits, id)
			} else if w.Data == nil {
				w.Data = NewObject()
			}
		}
		if g.Bundles == nil {
			g.Bundles = NewObject()
		}
		groups[g.Name] = g
	}
	return groups, nil
}

// snapshot encodes every group, each under its own lock.
func (s *Server) snapshot() ([]byte, error) {
	s.mu.Lock()
	list := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		list = append(list, g)
	}
	s.mu.Unlock()
	parts := make([]json.RawMessage, 0, len(list))
	for _, g := range list {
		g.mu.Lock()
		var b []byte
		var err error
		if !g.deleted {
			b, err = json.Marshal(g)
		}
		g.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("encode group %s: %w", g.Name, err)
		}
		if b != nil {
			parts = append(parts, b)
		}
	}
	return json.Marshal(struct {
		Version int               `json:"version"`
		Groups  []json.RawMessage `json:"groups"`
	}{stateVersion, parts})
}

// persister writes the state file after changes. Requests that changed
// state wait for a write that started after their change, so many
// concurrent changes share one write (group commit).
type persister struct {
	path   string
	snap   func() ([]byte, error)
	logger *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	seq     uint64 // last change
	saved   uint64 // last change on disk
	failed  uint64 // last change whose write failed
	lastErr error
	stopped bool

	kick chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newPersister(path string, snap func() ([]byte, error), logger *slog.Logger) *persister {
	p := &persister{path: path, snap: snap, logger: logger,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// changed records a change; call it while holding the changed group's lock.
func (p *persister) changed() uint64 {
	p.mu.Lock()
	p.seq++
	n := p.seq
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return n
}

// wait blocks until change n is on disk, or the write failed.
func (p *persister) wait(n uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.saved < n && p.failed < n && !p.stopped {
		p.cond.Wait()
	}
	if p.saved >= n {
		return nil
	}
	if p.failed >= n {
		return p.lastErr
	}
	return errors.New("coordinator stopping")
}

// run writes until stop; it keeps going after Run's context ends so the
// requests still in flight get their write.
func (p *persister) run() {
	defer close(p.done)
	for {
		select {
		case <-p.kick:
			p.save()
		case <-p.quit:
			p.save()
			p.mu.Lock()
			p.stopped = true
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
	}
}

func (p *persister) stop() {
	close(p.quit)
	<-p.done
}

func (p *persister) save() {
	p.mu.Lock()
	target := p.seq
	upToDate := p.saved >= target
	p.mu.Unlock()
	if upToDate {
		return
	}
	b, err := p.snap()
	if err == nil {
		err = writeFileAtomic(p.path, b)
	}
	p.mu.Lock()
	if err != nil {
		p.logger.Error("save coordinator state", slog.Any("error", err))
		p.lastErr, p.failed = err, target
	} else {
		p.saved = target
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

// writeFileAtomic writes a temp file beside path, syncs it and renames it.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create temp state: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write coordinator state %s: %w", path, werr)
	}
	return nil
}
