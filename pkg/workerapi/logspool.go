package workerapi

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// spool is a FIFO of log records in a file: records are appended as lines
// and read back in order. A nil *spool is empty and refuses records.
type spool struct {
	path string
	w    *os.File
	bw   *bufio.Writer
	r    *bufio.Reader
	rf   *os.File
	n    int // records written and not yet taken
	err  error
}

func newSpool(dir string) *spool {
	return &spool{path: filepath.Join(dir, fmt.Sprintf(".log-spool-%d", os.Getpid()))}
}

func (s *spool) count() int {
	if s == nil {
		return 0
	}
	return s.n
}

func (s *spool) open() error {
	if s.w != nil {
		return nil
	}
	w, err := os.OpenFile(s.path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open log spool: %w", err)
	}
	rf, err := os.Open(s.path)
	if err != nil {
		w.Close()
		return fmt.Errorf("open log spool: %w", err)
	}
	s.w, s.bw, s.rf, s.r = w, bufio.NewWriterSize(w, 64<<10), rf, bufio.NewReaderSize(rf, 64<<10)
	return nil
}

// put appends one record; newlines would split it, so they are escaped
// (logfmt never produces them).
func (s *spool) put(rec string) error {
	if s == nil {
		return fmt.Errorf("no log spool")
	}
	if s.err != nil {
		return s.err
	}
	if err := s.open(); err != nil {
		s.err = err
		return err
	}
	if _, err := s.bw.WriteString(strings.ReplaceAll(rec, "\n", `\n`) + "\n"); err != nil {
		s.err = fmt.Errorf("write log spool: %w", err)
		return s.err
	}
	s.n++
	return nil
}

// take reads up to max records, oldest first. When the spool empties, the
// file is truncated so it never grows beyond one backlog.
func (s *spool) take(max int) ([]string, error) {
	if err := s.bw.Flush(); err != nil {
		return nil, fmt.Errorf("flush log spool: %w", err)
	}
	out := make([]string, 0, min(max, s.n))
	for len(out) < max && s.n > 0 {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.n = 0
			return out, fmt.Errorf("read log spool: %w", err)
		}
		out = append(out, strings.TrimSuffix(line, "\n"))
		s.n--
	}
	if s.n == 0 {
		if err := s.w.Truncate(0); err == nil {
			_, _ = s.w.Seek(0, io.SeekStart)
			_, _ = s.rf.Seek(0, io.SeekStart)
			s.r.Reset(s.rf)
		}
	}
	return out, nil
}

// remove deletes the spool file.
func (s *spool) remove() {
	if s == nil || s.w == nil {
		return
	}
	s.w.Close()
	s.rf.Close()
	os.Remove(s.path)
	s.w = nil
}
