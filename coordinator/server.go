package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures the coordinator server.
type Config struct {
	// Listen is the TCP address; LAVA binds 0.0.0.0:3079. Tests use 127.0.0.1:0.
	Listen string
	// StateFile, when set, holds every group's state, rewritten (temp file
	// and rename) after each change and loaded at start, so a restart during
	// a lava_wait loses nothing. Each changing request is answered only once
	// its change is on disk; concurrent changes share one write.
	StateFile string
	// Logger receives connection and group logs; nil discards them.
	Logger *slog.Logger
	// MaxMessage bounds a request in bytes; 0 means DefaultMaxMessage.
	MaxMessage int
	// IOTimeout bounds reading a request and writing its reply; 0 means 30 s.
	IOTimeout time.Duration
	// MaxConns bounds the connections served at once (4096 when 0); more
	// are closed at once, which LAVA's client treats as "wait".
	MaxConns int
}

// Server is a running coordinator. Unlike LAVA's single loop it serves
// connections concurrently; each group has its own lock.
type Server struct {
	cfg    Config
	logger *slog.Logger
	ln     net.Listener

	mu     sync.Mutex
	groups map[string]*group

	persist *persister
	slots   chan struct{} // one per connection being served
	conns   sync.WaitGroup
	served  atomic.Int64
}

// New loads the state file, if any, and binds the listener.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.IOTimeout <= 0 {
		cfg.IOTimeout = 30 * time.Second
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4096
	}
	s := &Server{cfg: cfg, logger: cfg.Logger, groups: map[string]*group{}, slots: make(chan struct{}, cfg.MaxConns)}
	if cfg.StateFile != "" {
		groups, err := loadState(cfg.StateFile)
		if err != nil {
			return nil, err
		}
		s.groups = groups
		s.persist = newPersister(cfg.StateFile, s.snapshot, cfg.Logger)
		if len(groups) > 0 {
			s.logger.Info("coordinator state loaded", slog.String("file", cfg.StateFile), slog.Int("groups", len(groups)))
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("coordinator listen %s: %w", cfg.Listen, err)
	}
	s.ln = ln
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Groups is the number of groups held.
func (s *Server) Groups() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.groups)
}

// Run accepts connections until ctx ends, then closes the listener and
// waits for the connections in progress.
func (s *Server) Run(ctx context.Context) error {
	s.logger.Info("coordinator listening", slog.String("addr", s.ln.Addr().String()))
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	if s.persist != nil {
		go s.persist.run()
	}
	var err error
	for {
		conn, aerr := s.ln.Accept()
		if aerr != nil {
			if ctx.Err() == nil {
				err = fmt.Errorf("coordinator accept: %w", aerr)
			}
			break
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.logger.Warn("too many coordinator connections", slog.Int("max", s.cfg.MaxConns))
			conn.Close()
			continue
		}
		s.conns.Add(1)
		go func() {
			defer func() { <-s.slots; s.conns.Done() }()
			s.serveConn(conn)
		}()
	}
	s.ln.Close()
	s.conns.Wait()
	if s.persist != nil {
		s.persist.stop()
	}
	return err
}

// serveConn handles LAVA's one request per connection.
func (s *Server) serveConn(conn net.Conn) {
	defer conn.Close()
	s.served.Add(1)
	_ = conn.SetDeadline(time.Now().Add(s.cfg.IOTimeout))
	peer := conn.RemoteAddr().String()
	body, err := ReadMessage(conn, s.cfg.MaxMessage)
	if errors.Is(err, ErrTooLarge) {
		s.logger.Warn("coordinator message rejected", slog.String("peer", peer), slog.Any("error", err))
		_ = WriteMessage(conn, replyNack().String())
		return
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			s.logger.Warn("invalid coordinator message", slog.String("peer", peer), slog.Any("error", err))
		}
		return
	}
	v, err := ParseJSON(body)
	if err != nil {
		s.logger.Warn("coordinator message is not JSON", slog.String("peer", peer), slog.Any("error", err), slog.String("start", truncate(string(body), 100)))
		return
	}
	req, ok := v.(*Object)
	var reply *Object
	if !ok {
		reply = replyNack()
	} else {
		reply = s.Handle(req)
	}
	if reply == nil {
		return // "complete": close without a reply
	}
	if err := WriteMessage(conn, reply.String()); err != nil {
		s.logger.Debug("coordinator reply lost", slog.String("peer", peer), slog.Any("error", err))
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Handle answers one decoded request; nil means close without a reply. It
// returns once any change the request made is persisted.
func (s *Server) Handle(req *Object) *Object {
	reply, seq := s.handle(req)
	if seq > 0 && s.persist != nil {
		if err := s.persist.wait(seq); err != nil {
			s.logger.Error("coordinator state not saved", slog.Any("error", err))
			return nil // the peer sees an empty reply and retries
		}
	}
	return reply
}

// handle returns the reply and, when the request changed state, the change
// sequence number to wait for on disk.
func (s *Server) handle(req *Object) (*Object, uint64) {
	request, ok := keyOf(req.Get("request"))
	if !ok {
		return replyNack(), 0
	}
	client, ok := keyOf(req.Get("client_name"))
	if !ok || client == "" {
		return replyNack(), 0
	}
	name, ok := keyOf(req.Get("group_name"))
	if !ok || name == "" {
		return replyNack(), 0
	}
	g, created := s.lockGroup(name, groupSize(req))
	if g == nil {
		s.logger.Warn("new group without a size", slog.String("group", name), slog.String("client", client))
		return replyNack(), 0
	}
	defer g.mu.Unlock()
	changed := created
	if !g.hasClient(client) {
		hostname, hok := keyOf(req.Get("hostname"))
		role, rok := keyOf(req.Get("role"))
		if !hok || !rok {
			// LAVA crashes on this (KeyError); refuse the request instead.
			if created {
				s.removeGroup(g)
			}
			return replyNack(), 0
		}
		g.register(client, hostname, role)
		changed = true
	}
	reply, mutated := s.dispatch(g, request, client, req)
	var seq uint64
	if (changed || mutated) && s.persist != nil {
		seq = s.persist.changed()
	}
	return reply, seq
}

// lockGroup returns the named group locked, creating it when size > 0.
func (s *Server) lockGroup(name string, size int) (*group, bool) {
	for {
		created := false
		s.mu.Lock()
		g := s.groups[name]
		if g == nil {
			if size <= 0 {
				s.mu.Unlock()
				return nil, false
			}
			g = newGroup(name, size)
			s.groups[name] = g
			created = true
			s.logger.Info("group created", slog.String("group", name), slog.Int("size", size))
		}
		s.mu.Unlock()
		g.mu.Lock()
		if !g.deleted {
			return g, created
		}
		g.mu.Unlock() // cleared meanwhile: look again
	}
}

// removeGroup drops g, which the caller holds locked.
func (s *Server) removeGroup(g *group) {
	g.deleted = true
	s.mu.Lock()
	if s.groups[g.Name] == g {
		delete(s.groups, g.Name)
	}
	s.mu.Unlock()
}

// dispatch runs the request on the locked group; mutated tells whether the
// group state changed beyond registration.
func (s *Server) dispatch(g *group, request, client string, req *Object) (*Object, bool) {
	id, hasID := keyOf(req.Get("messageID"))
	switch request {
	case "group_data":
		return g.groupData(), false
	case "clear_group":
		g.Complete++
		if g.Complete >= len(g.Clients) {
			s.removeGroup(g)
			s.logger.Info("group cleared", slog.String("group", g.Name))
		}
		return replyAck(), true
	case "aggregate":
		return g.aggregate(client, req), true
	case "complete":
		return nil, false
	case "lava_send", "lava_wait", "lava_wait_all", "lava_sync":
		if !hasID {
			// LAVA keys these by None; every real client sends an ID.
			return replyNack(), false
		}
	default:
		s.logger.Warn("unknown coordinator request", slog.String("request", request), slog.String("client", client))
		return replyNack(), false
	}
	switch request {
	case "lava_send":
		return g.send(client, id, message(req)), true
	case "lava_wait":
		return g.wait(client, id), false
	case "lava_wait_all":
		return g.waitAll(client, id, req), false
	default:
		return g.sync(client, id, req), true
	}
}
