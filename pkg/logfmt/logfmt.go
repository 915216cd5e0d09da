package logfmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Levels LAVA writes. "results" lines carry a mapping in msg.
const (
	LevelDebug     = "debug"
	LevelInfo      = "info"
	LevelWarning   = "warning"
	LevelError     = "error"
	LevelException = "exception"
	LevelResults   = "results"
	LevelTarget    = "target"
	LevelInput     = "input"
	LevelFeedback  = "feedback"
	LevelEvent     = "event"
)

// MaxMsgLen is the size above which LAVA replaces a message, so a runaway
// console cannot produce a single record the server has to hold in memory.
const MaxMsgLen = 1_000_000

// TimeLayout is Python's naive isoformat with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000"

// Line is one log record. Msg is a string, or for results lines a map.
type Line struct {
	DT  time.Time
	Lvl string
	Msg any
	// NS is the namespace of feedback lines; empty when absent.
	NS string
}

// Encode renders l as one line without the leading "- " and without newline.
// The result is at once valid JSON and valid YAML (printable characters only).
func Encode(l Line) string {
	var b strings.Builder
	b.Grow(64 + approxLen(l.Msg))
	b.WriteString(`{"dt": "`)
	b.WriteString(l.DT.UTC().Format(TimeLayout))
	b.WriteString(`", "lvl": `)
	writeString(&b, l.Lvl)
	b.WriteString(`, "msg": `)
	writeValue(&b, l.Msg)
	if l.NS != "" {
		b.WriteString(`, "ns": `)
		writeString(&b, l.NS)
	}
	b.WriteByte('}')
	return b.String()
}

func approxLen(v any) int {
	if s, ok := v.(string); ok {
		return len(s)
	}
	return 64
}

// Msg truncates a message that is too long, as LAVA does.
func Msg(s string) string {
	if len(s) >= MaxMsgLen {
		return "<line way too long ...>"
	}
	return s
}

func writeValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64))
	case map[string]any:
		writeMap(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case []string:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, e)
		}
		b.WriteByte(']')
	default:
		writeString(b, fmt.Sprint(x))
	}
}

// writeMap writes keys sorted so that a record's bytes do not depend on map order.
func writeMap(b *strings.Builder, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		writeString(b, k)
		b.WriteString(": ")
		writeValue(b, m[k])
	}
	b.WriteByte('}')
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

const hexDigits = "0123456789abcdef"

// writeString quotes s so the result is both a JSON string and a YAML
// double-quoted scalar: YAML forbids raw non-printable characters (C0, DEL,
// C1, surrogates, U+FFFE/U+FFFF), so those are escaped; invalid UTF-8 bytes
// become U+FFFD rather than breaking the document.
func writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20 || c == 0x7f:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r <= 0x9f, r == 0x2028, r == 0x2029, r == 0xfeff, r == 0xfffe, r == 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// ErrSyntax reports a record that is not a {"dt", "lvl", "msg"} mapping.
var ErrSyntax = errors.New("not a LAVA log record")

// Decode parses one record as produced by Encode (or by LAVA, whose records
// are JSON-compatible flow mappings with double-quoted scalars). A leading
// "- " is accepted.
func Decode(rec string) (Line, error) {
	rec = strings.TrimPrefix(strings.TrimSpace(rec), "- ")
	var raw struct {
		DT  string `json:"dt"`
		Lvl string `json:"lvl"`
		Msg any    `json:"msg"`
		NS  string `json:"ns"`
	}
	dec := json.NewDecoder(strings.NewReader(rec))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Line{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if raw.Lvl == "" {
		return Line{}, fmt.Errorf("%w: missing lvl", ErrSyntax)
	}
	dt, err := time.Parse("2006-01-02T15:04:05.999999", raw.DT)
	if err != nil {
		return Line{}, fmt.Errorf("%w: dt %q: %v", ErrSyntax, raw.DT, err)
	}
	return Line{DT: dt, Lvl: raw.Lvl, Msg: normalize(raw.Msg), NS: raw.NS}, nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	}
	return v
}

// Document joins records into the YAML list LAVA serves as a job's log.
func Document(records []string) string {
	var b strings.Builder
	for _, r := range records {
		b.WriteString("- ")
		b.WriteString(r)
		b.WriteByte('\n')
	}
	return b.String()
}
