package dutsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Stages reported by Status.
const (
	StageOff        = "off"
	StageBootloader = "bootloader"
	StageKernel     = "kernel"
	StageLogin      = "login"
	StageShell      = "shell"
	StageHung       = "hung"
	StagePanicked   = "panicked"
)

// Status is what a running board reports on its control socket.
type Status struct {
	Name             string `json:"name"`
	Power            string `json:"power"`
	Stage            string `json:"stage"`
	Boots            int    `json:"boots"`
	ShellPID         int    `json:"shell_pid,omitempty"`
	ConsoleConnected bool   `json:"console_connected"`
	// ConsoleAttaches counts console clients accepted since Run started.
	ConsoleAttaches int `json:"console_attaches"`
	// Flags, AutobootDelay and BootLines apply from the next power-on.
	Flags         Flags  `json:"flags"`
	AutobootDelay string `json:"autoboot_delay"`
	BootLines     int    `json:"boot_lines"`
}

// board is one simulated device: power state, the current power session and
// its console.
type board struct {
	dir, name string
	logger    *slog.Logger
	con       *console

	opMu   sync.Mutex // serialises power transitions end to end
	closed bool       // Run is over: no more power-on (guarded by opMu)

	mu       sync.Mutex
	settings settings
	sess     *session
	boots    int
	stage    string
	shellPID int
}

func newBoard(cfg Config, logger *slog.Logger) *board {
	b := &board{
		dir:    cfg.Dir,
		name:   cfg.Name,
		logger: logger,
		stage:  StageOff,
		settings: settings{
			Flags:         cfg.Flags,
			AutobootDelay: cfg.AutobootDelay,
			BootLines:     cfg.BootLines,
		},
	}
	b.con = &console{logger: logger, feed: b.feed}
	return b
}

// feed routes console input to the running session; with power off it is lost.
func (b *board) feed(p []byte) {
	b.mu.Lock()
	s := b.sess
	b.mu.Unlock()
	if s != nil {
		s.in.push(p)
	}
}

func (b *board) fsDir() string { return filepath.Join(b.dir, RootFSDir) }

func (b *board) powerOn() error {
	b.opMu.Lock()
	defer b.opMu.Unlock()
	if b.closed {
		return errors.New("power on: board is shutting down")
	}
	b.mu.Lock()
	on := b.sess != nil
	b.mu.Unlock()
	if on {
		return nil
	}
	// The root file system is a ramdisk: it starts empty at every power-on.
	if err := os.RemoveAll(b.fsDir()); err != nil {
		return fmt.Errorf("power on: wipe root fs: %w", err)
	}
	if err := os.MkdirAll(b.fsDir(), 0o755); err != nil {
		return fmt.Errorf("power on: create root fs: %w", err)
	}
	b.mu.Lock()
	s := newSession(b, b.settings)
	b.sess = s
	b.boots++
	b.stage = StageBootloader
	b.mu.Unlock()
	b.logPower("on")
	go s.run()
	return nil
}

// powerOff stops the session and returns once its shell and output are gone.
func (b *board) powerOff() {
	b.opMu.Lock()
	defer b.opMu.Unlock()
	b.mu.Lock()
	s := b.sess
	b.sess = nil
	b.mu.Unlock()
	if s == nil {
		return
	}
	s.cancel()
	<-s.done
	b.mu.Lock()
	b.stage = StageOff
	b.shellPID = 0
	b.mu.Unlock()
	b.logPower("off")
}

func (b *board) power(action string) (string, error) {
	switch action {
	case "on":
		if err := b.powerOn(); err != nil {
			return "", err
		}
	case "off":
		b.powerOff()
	case "reset":
		b.powerOff()
		if err := b.powerOn(); err != nil {
			return "", err
		}
	case "status":
	default:
		return "", fmt.Errorf("power action %q: want on, off, reset or status", action)
	}
	return b.powerState(), nil
}

func (b *board) powerState() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		return "on"
	}
	return "off"
}

func (b *board) set(kv map[string]string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, err := applySettings(b.settings, kv)
	if err != nil {
		return err
	}
	b.settings = s
	b.logger.Info("board settings changed", slog.Any("flags", s.Flags),
		slog.Duration("autoboot_delay", s.AutobootDelay), slog.Int("boot_lines", s.BootLines))
	return nil
}

func (b *board) status() Status {
	connected, attaches := b.con.state()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Status{
		Name: b.name, Power: "off", Stage: b.stage, Boots: b.boots, ShellPID: b.shellPID,
		ConsoleConnected: connected, ConsoleAttaches: attaches, Flags: b.settings.Flags,
		AutobootDelay: b.settings.AutobootDelay.String(), BootLines: b.settings.BootLines,
	}
	if b.sess != nil {
		st.Power = "on"
	}
	return st
}

// setStage records s as the stage of session sess, unless sess is over.
func (b *board) setStage(sess *session, stage string, shellPID int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != sess {
		return
	}
	b.stage = stage
	b.shellPID = shellPID
}

// logPower appends one line per power change so tests can check the end state.
func (b *board) logPower(state string) {
	b.logger.Info("power changed", slog.String("board", b.name), slog.String("power", state))
	f, err := os.OpenFile(filepath.Join(b.dir, PowerLogFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.logger.Error("write power log", slog.Any("error", err))
		return
	}
	defer f.Close()
	line := fmt.Sprintf("%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), state)
	if _, err := f.WriteString(line); err != nil {
		b.logger.Error("write power log", slog.Any("error", err))
	}
}

// session is one power-on: it ends at power off, taking its shell with it.
type session struct {
	b      *board
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	in     *inputStream
	set    settings
	env    map[string]string // bootloader environment, kept until power off
	lines  *lineReader
}

func newSession(b *board, set settings) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{b: b, ctx: ctx, cancel: cancel, done: make(chan struct{}), in: newInputStream(), set: set}
	s.env = defaultEnv(b.name, set.AutobootDelay)
	s.lines = &lineReader{s: s}
	return s
}

// print writes text to the console at the session's speed.
func (s *session) print(text string) error {
	return s.b.con.write(s.ctx, []byte(text), s.set.Flags.SlowBytesPerSec)
}

func (s *session) printBytes(p []byte) error {
	return s.b.con.write(s.ctx, p, s.set.Flags.SlowBytesPerSec)
}

func (s *session) stage(name string) { s.b.setStage(s, name, 0) }
