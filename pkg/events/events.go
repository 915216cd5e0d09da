package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Topic suffixes; the full topic is Prefix + "." + suffix (realm names are added
// in front by the publisher for realms other than default).
const (
	TopicTestJob = "testjob"
	TopicDevice  = "device"
	TopicWorker  = "worker"
	TopicEvent   = "event"
	// TopicNotice is golava's own: one per job reaching Finished, for
	// realm subscribers and webhooks (no LAVA client knows it).
	TopicNotice = "notice"

	DefaultPrefix = "org.lavasoftware"
	// ServerUser is the username of device, worker and event messages.
	ServerUser = "lavaserver"
)

// Event is one published message. Data is the JSON text of the data frame.
type Event struct {
	ID       int64 // outbox sequence number; clients resume from it
	Realm    string
	Topic    string // suffix, e.g. "testjob"
	UUID     string
	Time     time.Time
	Username string
	Data     string
}

// FullTopic is the topic frame for prefix.
func (e Event) FullTopic(prefix string) string {
	if e.Realm != "" && e.Realm != "default" {
		return prefix + "." + e.Realm + "." + e.Topic
	}
	return prefix + "." + e.Topic
}

// PyISOTime formats t as Python's naive datetime.isoformat(): the fraction is
// dropped when microseconds are zero.
func PyISOTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// PyISOTimeTZ is PyISOTime with the "+00:00" an aware datetime carries.
func PyISOTimeTZ(t time.Time) string { return PyISOTime(t) + "+00:00" }

// Frames returns the five frames of the message.
func (e Event) Frames(prefix string) [][]byte {
	return [][]byte{
		[]byte(e.FullTopic(prefix)), []byte(e.UUID), []byte(PyISOTime(e.Time)),
		[]byte(e.Username), []byte(e.Data),
	}
}

// WSMessage is the WebSocket text frame: a JSON array of the five strings.
func (e Event) WSMessage(prefix string) []byte {
	var o Ordered
	parts := []string{e.FullTopic(prefix), e.UUID, PyISOTime(e.Time), e.Username, e.Data}
	var b strings.Builder
	b.WriteByte('[')
	for i, p := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.quote(p))
	}
	b.WriteByte(']')
	return []byte(b.String())
}

// Ordered builds a JSON object whose keys keep insertion order, formatted like
// Python's json.dumps defaults (", " and ": " separators, ASCII-escaped), so
// subscribers that compare bytes with LAVA's output see the same text.
type Ordered struct {
	keys []string
	vals []string
}

// Set appends key with a value that is a string, bool, integer, float, nil,
// time.Time (as isoformat with +00:00), or *Ordered.
func (o *Ordered) Set(key string, v any) *Ordered {
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, o.value(v))
	return o
}

func (o *Ordered) value(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return o.quote(x)
	case *string:
		if x == nil {
			return "null"
		}
		return o.quote(*x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case *int64:
		if x == nil {
			return "null"
		}
		return strconv.FormatInt(*x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return o.quote(PyISOTimeTZ(x))
	case *time.Time:
		if x == nil {
			return "null"
		}
		return o.quote(PyISOTimeTZ(*x))
	case *Ordered:
		return x.String()
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return o.quote(fmt.Sprint(x))
		}
		return string(b)
	}
}

func (o *Ordered) quote(s string) string {
	var b strings.Builder
	WritePyString(&b, s)
	return b.String()
}

// WritePyString writes s as Python's json.dumps does by default
// (ensure_ascii): ASCII stays as is, control characters and everything above
// U+007F become \uXXXX escapes, with surrogate pairs beyond the BMP.
func WritePyString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r > 0x7f && r < 0x10000):
			u4(r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			u4(r1)
			u4(r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// String renders the object.
func (o *Ordered) String() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.quote(k))
		b.WriteString(": ")
		b.WriteString(o.vals[i])
	}
	b.WriteByte('}')
	return b.String()
}

// ParseRealmSockets reads "REALM=ADDR,REALM=ADDR" (the per-realm ZMQ
// sockets of the publisher's --zmq-realm and the server's
// --realm-event-socket) into a map; the error names the bad item.
func ParseRealmSockets(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		realm, addr, ok := strings.Cut(item, "=")
		realm, addr = strings.TrimSpace(realm), strings.TrimSpace(addr)
		switch {
		case !ok || realm == "" || addr == "":
			return nil, fmt.Errorf("%q: want REALM=ADDRESS", item)
		case realm == "default":
			return nil, fmt.Errorf("%q: the default realm's socket is the main one", item)
		case out[realm] != "":
			return nil, fmt.Errorf("%q: realm %s given twice", item, realm)
		}
		out[realm] = addr
	}
	return out, nil
}
