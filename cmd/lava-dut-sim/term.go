package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"golava/worker/dutsim"
)

// escapeByte ends an interactive console session, as telnet's ^].
const escapeByte = 0x1d

func console(ctx context.Context, args []string, stdin *os.File, stdout, stderr io.Writer) error {
	fs, dir := newFlags("console", "", stderr)
	if _, err := parse(fs, dir, args); err != nil {
		return err
	}
	var in io.Reader = stdin
	if restore, err := makeRaw(int(stdin.Fd())); err == nil {
		defer restore()
		fmt.Fprint(stderr, "Connected to the board console. Escape character is '^]'.\r\n")
		in = &escapeReader{r: stdin}
	}
	err := dutsim.Console(ctx, *dir, in, stdout)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// makeRaw puts the terminal fd in raw mode, like cfmakeraw(3), so every key
// reaches the board; it fails when fd is not a terminal.
func makeRaw(fd int) (func(), error) {
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	t := *old
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, nil
}

// escapeReader ends the input stream at the escape byte.
type escapeReader struct {
	r    io.Reader
	done bool
}

func (e *escapeReader) Read(p []byte) (int, error) {
	if e.done {
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	for i := range n {
		if p[i] == escapeByte {
			e.done = true
			if i == 0 {
				return 0, io.EOF
			}
			return i, nil
		}
	}
	return n, err
}
