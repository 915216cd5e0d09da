package xmlrpc

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// Member is one field of a Struct.
type Member struct {
	Name  string
	Value any
}

// Struct is an XML-RPC struct that keeps its field order (as a Python dict
// does), for outputs clients print as they come.
type Struct []Member

// EncodeResponse writes a methodResponse carrying v.
func EncodeResponse(w io.Writer, v any) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n")
	if err := encodeValue(bw, v, 0); err != nil {
		return err
	}
	bw.WriteString("</param>\n</params>\n</methodResponse>\n")
	return bw.Flush()
}

// EncodeFault writes a methodResponse carrying a fault.
func EncodeFault(w io.Writer, f *Fault) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n")
	_ = encodeValue(bw, Struct{{"faultCode", f.Code}, {"faultString", f.String}}, 0)
	bw.WriteString("</fault>\n</methodResponse>\n")
	return bw.Flush()
}

// EncodeCall builds a methodCall document (for clients and tests).
func EncodeCall(method string, params ...any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("<?xml version='1.0'?>\n<methodCall>\n<methodName>")
	escape(&buf, method)
	buf.WriteString("</methodName>\n<params>\n")
	bw := bufio.NewWriter(&buf)
	for _, p := range params {
		bw.WriteString("<param>\n")
		if err := encodeValue(bw, p, 0); err != nil {
			return nil, err
		}
		bw.WriteString("</param>\n")
	}
	bw.Flush()
	buf.WriteString("</params>\n</methodCall>\n")
	return buf.Bytes(), nil
}

// maxEncodeDepth stops cyclic or absurd values.
const maxEncodeDepth = 100

type byteWriter interface {
	io.Writer
	io.ByteWriter
	WriteString(string) (int, error)
}

func encodeValue(w byteWriter, v any, depth int) error {
	if depth > maxEncodeDepth {
		return fmt.Errorf("xmlrpc: value nested deeper than %d", maxEncodeDepth)
	}
	w.WriteString("<value>")
	if err := encodeInner(w, v, depth); err != nil {
		return err
	}
	w.WriteString("</value>\n")
	return nil
}

func encodeInner(w byteWriter, v any, depth int) error {
	switch x := v.(type) {
	case nil:
		w.WriteString("<nil/>")
	case bool:
		if x {
			w.WriteString("<boolean>1</boolean>")
		} else {
			w.WriteString("<boolean>0</boolean>")
		}
	case int:
		fmt.Fprintf(w, "<int>%d</int>", x)
	case int32:
		fmt.Fprintf(w, "<int>%d</int>", x)
	case int64:
		fmt.Fprintf(w, "<int>%d</int>", x)
	case float64:
		w.WriteString("<double>" + strconv.FormatFloat(x, 'g', -1, 64) + "</double>")
	case string:
		w.WriteString("<string>")
		escape(w, x)
		w.WriteString("</string>")
	case time.Time:
		w.WriteString("<dateTime.iso8601>" + x.UTC().Format(dateTimeLayout) + "</dateTime.iso8601>")
	case []byte:
		w.WriteString("<base64>\n" + base64.StdEncoding.EncodeToString(x) + "\n</base64>")
	case Struct:
		w.WriteString("<struct>\n")
		for _, m := range x {
			if err := encodeMember(w, m.Name, m.Value, depth); err != nil {
				return err
			}
		}
		w.WriteString("</struct>")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.WriteString("<struct>\n")
		for _, k := range keys {
			if err := encodeMember(w, k, x[k], depth); err != nil {
				return err
			}
		}
		w.WriteString("</struct>")
	default:
		return encodeReflect(w, v, depth)
	}
	return nil
}

func encodeMember(w byteWriter, name string, v any, depth int) error {
	w.WriteString("<member>\n<name>")
	escape(w, name)
	w.WriteString("</name>\n")
	if err := encodeValue(w, v, depth+1); err != nil {
		return err
	}
	w.WriteString("</member>\n")
	return nil
}

// encodeReflect handles slices and pointers of any element type.
func encodeReflect(w byteWriter, v any, depth int) error {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			w.WriteString("<nil/>")
			return nil
		}
		return encodeInner(w, rv.Elem().Interface(), depth)
	case reflect.Slice, reflect.Array:
		w.WriteString("<array><data>\n")
		for i := range rv.Len() {
			if err := encodeValue(w, rv.Index(i).Interface(), depth+1); err != nil {
				return err
			}
		}
		w.WriteString("</data></array>")
		return nil
	}
	return fmt.Errorf("xmlrpc: cannot encode %T", v)
}

// escape writes s as XML text; characters XML 1.0 cannot carry (control
// characters, invalid UTF-8) become U+FFFD so the response stays parseable.
func escape(w byteWriter, s string) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '<':
			w.WriteString("&lt;")
		case r == '>':
			w.WriteString("&gt;")
		case r == '&':
			w.WriteString("&amp;")
		case r == '\r':
			w.WriteString("&#13;")
		case r == utf8.RuneError && size == 1, !xmlChar(r):
			w.WriteString("\uFFFD")
		case r < utf8.RuneSelf:
			w.WriteByte(byte(r))
		default:
			w.WriteString(string(r))
		}
	}
}

func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || (r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// S builds a Struct from name, value pairs: S("id", 1, "state", "Idle").
func S(pairs ...any) Struct {
	out := make(Struct, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, Member{Name: pairs[i].(string), Value: pairs[i+1]})
	}
	return out
}
