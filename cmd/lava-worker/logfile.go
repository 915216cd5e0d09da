package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// openLog opens the log output: "-" is stdout; a file is reopened when
// logrotate moves it, as LAVA's WatchedFileHandler does. When the default
// file cannot be opened (not running as root, say) the log goes to stderr.
func openLog(path string, explicit bool, stderr io.Writer) (io.WriteCloser, error) {
	if path == "-" {
		return nopCloser{os.Stdout}, nil
	}
	w := &watchedFile{path: path}
	if err := w.open(); err != nil {
		if explicit {
			return nil, err
		}
		fmt.Fprintf(stderr, "lava-worker: %v; logging to stderr\n", err)
		return nopCloser{stderr}, nil
	}
	return w, nil
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// watchedFile appends to path and reopens it when it was moved or removed.
type watchedFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
	dev  uint64
	ino  uint64
}

func (w *watchedFile) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.dev, w.ino = f, st.Dev, st.Ino
	return nil
}

func (w *watchedFile) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var st unix.Stat_t
	if err := unix.Stat(w.path, &st); err != nil || st.Dev != w.dev || st.Ino != w.ino {
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	return w.f.Write(p)
}

func (w *watchedFile) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}

// readPassword prompts on the terminal with echo off, as getpass does;
// from a pipe it reads one line.
func readPassword(stdin *os.File, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "Password: ")
	fd := int(stdin.Fd())
	if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		noEcho := *old
		noEcho.Lflag &^= unix.ECHO
		noEcho.Lflag |= unix.ICANON
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err == nil {
			defer func() {
				unix.IoctlSetTermios(fd, unix.TCSETS, old)
				fmt.Fprintln(stderr)
			}()
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
