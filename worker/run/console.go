package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Console limits and pacing.
const (
	// searchWindow bounds the bytes kept for prompt matching, as pexpect's
	// searchwindowsize: prompts are short and sit at the end of the output.
	searchWindow = 64 << 10
	// maxLine bounds a console line kept for signal parsing; longer lines
	// are cut so a console spewing garbage without newlines stays cheap.
	maxLine = 64 << 10
	// maxLogLine bounds a console line kept for the log: a longer one is
	// logged as LAVA's "<line way too long ...>" (its records stop at 10**6
	// characters).
	maxLogLine = maxRecord
	// idleFlush is how long a partial line waits before it is logged, so a
	// prompt without newline still shows up in the log.
	idleFlush = 300 * time.Millisecond
	// killGrace is the time the connection command gets after SIGTERM.
	killGrace = 2 * time.Second
)

// ErrConnectionClosed is wrapped by errors about a console that ended.
var ErrConnectionClosed = errors.New("connection closed")

// Console is the serial console of the DUT: the device's connect command
// running on a pty in its own session, its output logged at level target
// and searched for prompts.
type Console struct {
	log  *Logger
	cmd  *exec.Cmd
	ptmx *os.File
	// line is the console when it is a serial port (cmd and ptmx are nil).
	line  io.ReadWriteCloser
	delay time.Duration

	mu         sync.Mutex
	buf        []byte // unmatched output, at most searchWindow (+ one read)
	logPartial []byte // line being assembled for the log (flushed when idle)
	logCut     bool   // logPartial lost bytes: the line is too long to log
	sigPartial []byte // line being assembled for the line handler
	lineFn     func(line string)
	logFilter  logFilter
	closed     bool
	readErr    error
	notify     chan struct{}
	idle       *time.Timer

	done      chan struct{} // reader ended
	waited    chan struct{} // process reaped
	closeOnce sync.Once
}

// Connect starts command (a shell string, run by /bin/sh -c) on a raw pty.
func Connect(command string, log *Logger) (*Console, error) {
	ptmx, tty, err := openPty()
	if err != nil {
		return nil, InfraError("open pty: %v", err)
	}
	defer tty.Close() // the child holds its own copy; EIO on ptmx means it is gone
	if err := makeRaw(tty); err != nil {
		ptmx.Close()
		return nil, InfraError("set pty raw: %v", err)
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		ptmx.Close()
		return nil, InfraError("start connection %q: %v", command, err)
	}
	c := newConsole(log)
	c.cmd, c.ptmx = cmd, ptmx
	go c.readLoop()
	go func() { _ = cmd.Wait(); close(c.waited) }()
	return c, nil
}

func newConsole(log *Logger) *Console {
	c := &Console{
		log:    log,
		buf:    make([]byte, 0, 4096),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
		waited: make(chan struct{}),
	}
	c.idle = time.AfterFunc(time.Hour, c.flushIdle)
	c.idle.Stop()
	return c
}

// reader is the console's input: the pty of the command or the serial line.
func (c *Console) reader() io.Reader {
	if c.line != nil {
		return c.line
	}
	return c.ptmx
}

// openPty opens a pty pair whose master is non-blocking, so that reads go
// through the runtime poller and Close interrupts a pending Read even when
// some orphan still holds the slave side open.
func openPty() (*os.File, *os.File, error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	fd, err := unix.Dup(int(m.Fd()))
	m.Close()
	if err == nil {
		unix.CloseOnExec(fd)
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		tty.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), tty, nil
}

// makeRaw turns off echo, line editing and output processing on the pty so
// that the bytes of the DUT reach us unchanged and ours reach it unchanged.
func makeRaw(tty *os.File) error {
	fd := int(tty.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// SetCharacterDelay sets the pause between two sent characters.
func (c *Console) SetCharacterDelay(d time.Duration) { c.delay = d }

// SetLineHandler calls fn, from the reader goroutine, with every complete
// console line (raw: trailing CR and escapes kept). fn must be quick.
func (c *Console) SetLineHandler(fn func(line string)) {
	c.mu.Lock()
	c.lineFn = fn
	c.mu.Unlock()
}

// logFilter keeps some console lines out of the log: the base64 lines of
// a file the DUT uploads would drown the log and bloat the server's store.
type logFilter interface {
	// hide is called, from the reader, with every complete raw line
	// before it is logged; true drops it from the log.
	hide(line []byte) bool
	// holding reports that a partial line must wait for its end rather
	// than be logged when the console is idle (it may be hidden).
	holding() bool
}

// setLogFilter installs f (nil removes it).
func (c *Console) setLogFilter(f logFilter) {
	c.mu.Lock()
	c.logFilter = f
	c.mu.Unlock()
}

// Done is closed when the console output ended.
func (c *Console) Done() <-chan struct{} { return c.done }

func (c *Console) readLoop() {
	defer close(c.done)
	b := make([]byte, 4096)
	for {
		n, err := c.reader().Read(b)
		if n > 0 {
			c.feed(b[:n])
		}
		if err != nil {
			c.mu.Lock()
			c.flushLogPartial()
			if c.readErr == nil {
				c.readErr = err
			}
			c.mu.Unlock()
			c.wake()
			return
		}
	}
}

func (c *Console) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *Console) feed(p []byte) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	if len(c.buf) > 2*searchWindow {
		c.buf = append(c.buf[:0], c.buf[len(c.buf)-searchWindow:]...)
	}
	for len(p) > 0 {
		i := indexNL(p)
		if i < 0 {
			c.appendLog(p)
			c.sigPartial = appendBounded(c.sigPartial, p, maxLine)
			break
		}
		c.appendLog(p[:i])
		c.sigPartial = appendBounded(c.sigPartial, p[:i], maxLine)
		if c.logFilter != nil && c.logFilter.hide(c.sigPartial) {
			c.logPartial, c.logCut = c.logPartial[:0], false
		} else {
			c.flushLogPartial()
		}
		if c.lineFn != nil {
			c.lineFn(string(c.sigPartial))
		}
		c.sigPartial = c.sigPartial[:0]
		p = p[i+1:]
	}
	if len(c.logPartial) > 0 {
		c.idle.Reset(idleFlush)
	}
	c.mu.Unlock()
	c.wake()
}

func indexNL(p []byte) int {
	for i, b := range p {
		if b == '\n' {
			return i
		}
	}
	return -1
}

func (c *Console) appendLog(p []byte) {
	if len(c.logPartial)+len(p) > maxLogLine {
		c.logCut = true
	}
	c.logPartial = appendBounded(c.logPartial, p, maxLogLine)
}

func appendBounded(dst, p []byte, limit int) []byte {
	if room := limit - len(dst); len(p) > room {
		p = p[:max(room, 0)]
	}
	return append(dst, p...)
}

// flushLogPartial logs the pending line; c.mu must be held.
func (c *Console) flushLogPartial() {
	end := len(c.logPartial)
	for end > 0 && c.logPartial[end-1] == '\r' {
		end--
	}
	switch {
	case c.logCut:
		c.log.Target(lineTooLong)
	case end > 0:
		c.log.Target(string(c.logPartial[:end]))
	}
	c.logPartial, c.logCut = c.logPartial[:0], false
}

func (c *Console) flushIdle() {
	c.mu.Lock()
	if c.logFilter == nil || !c.logFilter.holding() {
		c.flushLogPartial()
	}
	c.mu.Unlock()
}

// Flush forgets the output received so far, so that the next Expect only
// matches what comes after (a stale prompt must not answer a new command).
func (c *Console) Flush() {
	c.mu.Lock()
	c.buf = c.buf[:0]
	c.mu.Unlock()
}

// Send writes s to the DUT, logging it at level input, with the character
// delay between bytes.
func (c *Console) Send(ctx context.Context, s string) error {
	c.log.Input(s)
	if c.delay <= 0 {
		return c.write([]byte(s))
	}
	for i := 0; i < len(s); i++ {
		if err := c.write([]byte{s[i]}); err != nil {
			return err
		}
		if !sleepCtx(ctx, c.delay) {
			return context.Cause(ctx)
		}
	}
	return nil
}

// SendLine sends s followed by a newline.
func (c *Console) SendLine(ctx context.Context, s string) error { return c.Send(ctx, s+"\n") }

func (c *Console) write(p []byte) error {
	w := io.Writer(c.ptmx)
	if c.line != nil {
		w = c.line
	}
	if _, err := w.Write(p); err != nil {
		return &Error{Type: TypeInfrastructure, Msg: "Connection closed", Err: fmt.Errorf("%w: write: %v", ErrConnectionClosed, err)}
	}
	return nil
}

// Expect waits until one of patterns matches the unconsumed output and
// returns its index; the output up to the end of the match is consumed.
// When several match, the earliest in the output wins.
func (c *Console) Expect(ctx context.Context, patterns []*regexp.Regexp) (int, error) {
	idx, _, err := c.ExpectText(ctx, patterns)
	return idx, err
}

// ExpectText is Expect that also returns the matched text.
func (c *Console) ExpectText(ctx context.Context, patterns []*regexp.Regexp) (int, string, error) {
	for {
		c.mu.Lock()
		idx, end := -1, 0
		best := len(c.buf) + 1
		for i, re := range patterns {
			if loc := re.FindIndex(c.buf); loc != nil && loc[0] < best {
				idx, best, end = i, loc[0], loc[1]
			}
		}
		if idx >= 0 {
			text := string(c.buf[best:end])
			c.buf = append(c.buf[:0], c.buf[end:]...)
			c.mu.Unlock()
			return idx, text, nil
		}
		readErr := c.readErr
		c.mu.Unlock()
		if readErr != nil {
			return -1, "", c.closedError(readErr)
		}
		select {
		case <-ctx.Done():
			return -1, "", context.Cause(ctx)
		case <-c.notify:
		}
	}
}

func (c *Console) closedError(err error) error {
	return &Error{Type: TypeInfrastructure, Msg: "Connection closed", Err: fmt.Errorf("%w: %v", ErrConnectionClosed, err)}
}

// Close ends the connection command and its whole process group: SIGTERM,
// then SIGKILL after killGrace. Safe to call twice.
func (c *Console) Close() {
	c.closeOnce.Do(func() {
		if c.line != nil {
			_ = c.line.Close() // ends the pending Read
			<-c.done
			c.idle.Stop()
			c.flushIdle()
			return
		}
		sid := c.cmd.Process.Pid // Setsid: the session id is the pid
		// A hangup first, as a closed serial line: interactive shells
		// ignore SIGTERM but exit on SIGHUP.
		killSession(sid, syscall.SIGHUP)
		killSession(sid, syscall.SIGTERM)
		select {
		case <-c.waited:
		case <-time.After(killGrace):
		}
		// Interactive shells ignore SIGTERM and their jobs may outlive
		// them: kill whatever is left of the session.
		killSession(sid, syscall.SIGKILL)
		<-c.waited
		_ = c.ptmx.Close()
		<-c.done
		c.idle.Stop()
		c.flushIdle()
	})
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
