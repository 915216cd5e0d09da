package coordinator

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// HeaderLen is the size of the length prefix: 8 hex digits giving the length
// of the JSON text in characters (Python's len(str)), as "%08X".
const HeaderLen = 8

// DefaultMaxMessage bounds a message; LAVA's client refuses to send more than
// 0xFFFE characters, so 1 MB leaves room for any honest peer.
const DefaultMaxMessage = 1 << 20

// ErrTooLarge is returned when a header announces, or a body holds, more than
// the allowed size.
var ErrTooLarge = errors.New("message too large")

// FrameError describes a malformed message and where it went wrong.
type FrameError struct {
	Offset int // byte offset in the stream
	Reason string
	Err    error
}

func (e *FrameError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("coordinator message at byte %d: %s: %v", e.Offset, e.Reason, e.Err)
	}
	return fmt.Sprintf("coordinator message at byte %d: %s", e.Offset, e.Reason)
}

func (e *FrameError) Unwrap() error { return e.Err }

// parseHeader reads the 8 hex digits; Python's int(x, 16) accepts both cases.
func parseHeader(h []byte) (int, error) {
	n := 0
	for i, c := range h {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, &FrameError{Offset: i, Reason: fmt.Sprintf("header byte %q is not a hex digit", c)}
		}
		n = n<<4 | int(d)
	}
	return n, nil
}

// ReadMessage reads one message: the header, then the body until it holds the
// announced number of characters or the peer closes its side (LAVA's server
// accepts a short body the same way). limit bounds both the announced length
// and the bytes read; 0 means DefaultMaxMessage. The body must be UTF-8.
func ReadMessage(r io.Reader, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	var hdr [HeaderLen]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, &FrameError{Offset: n, Reason: "short header", Err: err}
	}
	count, err := parseHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	if count > limit {
		return nil, fmt.Errorf("header announces %d characters, limit %d: %w", count, limit, ErrTooLarge)
	}
	return readBody(r, count, limit)
}

func readBody(r io.Reader, count, limit int) ([]byte, error) {
	body := make([]byte, 0, min(count, 4096))
	buf := make([]byte, 4096)
	chars, scanned := 0, 0
	for chars < count {
		n, err := r.Read(buf)
		body = append(body, buf[:n]...)
		for chars < count && scanned < len(body) && utf8.FullRune(body[scanned:]) {
			c, size := utf8.DecodeRune(body[scanned:])
			if c == utf8.RuneError && size == 1 {
				return nil, &FrameError{Offset: HeaderLen + scanned, Reason: "body is not UTF-8"}
			}
			scanned += size
			chars++
		}
		if chars < count && len(body) > limit {
			return nil, fmt.Errorf("body longer than %d bytes: %w", limit, ErrTooLarge)
		}
		if errors.Is(err, io.EOF) {
			if scanned < len(body) {
				return nil, &FrameError{Offset: HeaderLen + scanned, Reason: "body ends inside a UTF-8 sequence"}
			}
			break
		}
		if err != nil {
			return nil, &FrameError{Offset: HeaderLen + len(body), Reason: "read body", Err: err}
		}
	}
	return body[:scanned], nil
}

// AppendMessage appends the framed form of the JSON text body to dst.
func AppendMessage(dst []byte, body string) []byte {
	dst = fmt.Appendf(dst, "%08X", utf8.RuneCountInString(body))
	return append(dst, body...)
}

// WriteMessage writes the framed body in one call.
func WriteMessage(w io.Writer, body string) error {
	if _, err := w.Write(AppendMessage(nil, body)); err != nil {
		return fmt.Errorf("write coordinator message: %w", err)
	}
	return nil
}
