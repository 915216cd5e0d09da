package dutsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxRequest bounds one control request line.
const maxRequest = 64 << 10

// controlTimeout bounds one control exchange on either side.
const controlTimeout = 30 * time.Second

// The control protocol: one JSON request line and one JSON reply line per
// connection on control.sock, for example
//
//	{"op":"power","action":"reset"}          -> {"ok":true,"power":"on"}
//	{"op":"set","settings":{"panic":"true"}} -> {"ok":true}
//	{"op":"status"}                          -> {"ok":true,"power":"off","status":{...}}
//	{"op":"fly"}                             -> {"ok":false,"error":"control op \"fly\": ..."}

// controlRequest is one JSON line sent on control.sock; one per connection.
type controlRequest struct {
	Op       string            `json:"op"`               // power, set or status
	Action   string            `json:"action,omitempty"` // power: on, off, reset, status
	Settings map[string]string `json:"settings,omitempty"`
}

// controlReply is the one JSON line answered.
type controlReply struct {
	OK     bool    `json:"ok"`
	Error  string  `json:"error,omitempty"`
	Power  string  `json:"power,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Run serves one board on Config.Dir until ctx is done, then powers it off
// (killing its shell) and removes its sockets.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("create board dir: %w", err)
	}
	ctl, err := listenUnix(filepath.Join(cfg.Dir, ControlSocket))
	if err != nil {
		return err
	}
	con, err := listenUnix(filepath.Join(cfg.Dir, ConsoleSocket))
	if err != nil {
		_ = ctl.Close()
		return err
	}
	b := newBoard(cfg, logger)
	logger.Info("board ready", slog.String("board", cfg.Name), slog.String("dir", cfg.Dir))
	var wg sync.WaitGroup
	wg.Go(func() { serveControl(ctl, b, logger) })
	wg.Go(func() { serveConsole(con, b) })
	<-ctx.Done()
	_ = ctl.Close()
	_ = con.Close()
	wg.Wait()
	b.shutdown()
	logger.Info("board stopped", slog.String("board", cfg.Name))
	return nil
}

// listenUnix listens on path, replacing a stale socket file but refusing to
// steal one a live board still serves.
func listenUnix(path string) (*net.UnixListener, error) {
	if _, err := os.Lstat(path); err == nil {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			_ = c.Close()
			return nil, fmt.Errorf("listen %s: a board is already running there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", path, err)
	}
	return ln, nil
}

func serveConsole(ln *net.UnixListener, b *board) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		b.con.attach(conn)
	}
}

func serveControl(ln *net.UnixListener, b *board, logger *slog.Logger) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		wg.Go(func() {
			defer conn.Close()
			if err := handleControl(conn, b); err != nil {
				logger.Warn("control request failed", slog.Any("error", err))
			}
		})
	}
}

func handleControl(conn net.Conn, b *board) error {
	_ = conn.SetDeadline(time.Now().Add(controlTimeout))
	line, err := bufio.NewReader(io.LimitReader(conn, maxRequest)).ReadBytes('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return fmt.Errorf("read control request: %w", err)
	}
	var req controlRequest
	var reply controlReply
	if err := json.Unmarshal(line, &req); err != nil {
		reply.Error = fmt.Sprintf("bad control request: %v", err)
	} else {
		reply = b.handle(req)
	}
	out, err := json.Marshal(reply)
	if err != nil {
		return fmt.Errorf("encode control reply: %w", err)
	}
	if _, err := conn.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("write control reply: %w", err)
	}
	return nil
}

func (b *board) handle(req controlRequest) controlReply {
	var err error
	reply := controlReply{}
	switch req.Op {
	case "power":
		reply.Power, err = b.power(req.Action)
	case "set":
		err = b.set(req.Settings)
	case "status":
		st := b.status()
		reply.Status = &st
		reply.Power = st.Power
	default:
		err = fmt.Errorf("control op %q: want power, set or status", req.Op)
	}
	if err != nil {
		reply.Error = err.Error()
		return reply
	}
	reply.OK = true
	return reply
}

// shutdown powers the board off for good and drops the console client.
func (b *board) shutdown() {
	b.powerOff()
	b.opMu.Lock()
	b.closed = true
	b.opMu.Unlock()
	b.con.drop("board stopped")
}
