package dutsim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Power asks the board in dir to turn on, off, reset, or report its power
// ("status"); it returns the power state after the action: "on" or "off".
// Power off returns once the board's shell is dead.
func Power(ctx context.Context, dir, action string) (string, error) {
	switch action {
	case "on", "off", "reset", "status":
	default:
		return "", fmt.Errorf("power action %q: want on, off, reset or status", action)
	}
	reply, err := call(ctx, dir, controlRequest{Op: "power", Action: action})
	if err != nil {
		return "", fmt.Errorf("power %s: %w", action, err)
	}
	return reply.Power, nil
}

// Set changes the misbehaviour flags (and autoboot-delay, boot-lines) of the
// board in dir, effective from its next power-on. Keys: hang-at-boot, panic,
// drop-connection, garbage (booleans), slow (bytes/s, 0 = off).
func Set(ctx context.Context, dir string, settings map[string]string) error {
	if len(settings) == 0 {
		return errors.New("set: no settings given")
	}
	if _, err := call(ctx, dir, controlRequest{Op: "set", Settings: settings}); err != nil {
		return fmt.Errorf("set: %w", err)
	}
	return nil
}

// GetStatus reports the power, stage, boots count and flags of the board in dir.
func GetStatus(ctx context.Context, dir string) (Status, error) {
	reply, err := call(ctx, dir, controlRequest{Op: "status"})
	if err != nil {
		return Status{}, fmt.Errorf("status: %w", err)
	}
	if reply.Status == nil {
		return Status{}, errors.New("status: reply has no status")
	}
	return *reply.Status, nil
}

func call(ctx context.Context, dir string, req controlRequest) (controlReply, error) {
	conn, err := dial(ctx, dir, ControlSocket)
	if err != nil {
		return controlReply{}, err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(controlTimeout)
	}
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	body, err := json.Marshal(req)
	if err != nil {
		return controlReply{}, fmt.Errorf("encode request: %w", err)
	}
	if _, err := conn.Write(append(body, '\n')); err != nil {
		return controlReply{}, fmt.Errorf("send request: %w", err)
	}
	line, err := bufio.NewReader(io.LimitReader(conn, maxRequest)).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return controlReply{}, ctx.Err()
		}
		return controlReply{}, fmt.Errorf("read reply: %w", err)
	}
	var reply controlReply
	if err := json.Unmarshal(line, &reply); err != nil {
		return controlReply{}, fmt.Errorf("decode reply %q: %w", line, err)
	}
	if !reply.OK {
		return reply, errors.New(reply.Error)
	}
	return reply, nil
}

// dial connects to a board socket, saying clearly when no board is there.
func dial(ctx context.Context, dir, name string) (net.Conn, error) {
	path := filepath.Join(dir, name)
	if err := checkSocketPaths(dir); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	switch {
	case err == nil:
		return conn, nil
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("no board at %s: socket missing (is 'lava-dut-sim serve --dir %s' running?)", path, dir)
	case errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("no board at %s: connection refused (stale socket?)", path)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("connect to board: %w", ctx.Err())
	default:
		return nil, fmt.Errorf("connect to board: %w", err)
	}
}

// Console bridges in and out with the serial console of the board in dir
// until the board side closes, in reaches EOF, or ctx is done (then it
// returns ctx's error). A Read blocked on in is left behind: callers that
// need every goroutine back close in.
func Console(ctx context.Context, dir string, in io.Reader, out io.Writer) error {
	conn, err := dial(ctx, dir, ConsoleSocket)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	outDone := make(chan error, 1)
	inDone := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, conn)
		outDone <- err
	}()
	go func() {
		_, err := io.Copy(conn, in)
		inDone <- err
	}()
	var result error
	select {
	case err := <-outDone:
		_ = conn.Close()
		return quietClose(err)
	case err := <-inDone:
		result = quietClose(err)
	case <-ctx.Done():
		result = ctx.Err()
	}
	_ = conn.Close()
	<-outDone // never return while still writing to out
	return result
}

// quietClose treats a closed connection, or a terminal that went away (EIO
// from a pty whose other side closed), as the normal end of a bridge.
func quietClose(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.EIO) {
		return nil
	}
	return fmt.Errorf("console: %w", err)
}

// WaitReady waits until the board in dir answers on its control socket, for
// callers that start Run in a goroutine or `lava-dut-sim serve` as a process.
func WaitReady(ctx context.Context, dir string) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last error = errors.New("no answer")
	for {
		_, err := GetStatus(ctx, dir)
		if err == nil {
			return nil
		}
		var ne net.Error
		if ctx.Err() == nil && !(errors.As(err, &ne) && ne.Timeout()) && !errors.Is(err, context.Canceled) {
			last = err // keep why the board did not answer, not the deadline
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for board at %s: %w (last error: %v)", dir, ctx.Err(), last)
		case <-tick.C:
		}
	}
}
