package xmlrpc

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what a decoder accepts.
type Limits struct {
	// MaxDepth bounds nesting of arrays and structs.
	MaxDepth int
	// MaxValues bounds the number of values in one document.
	MaxValues int
}

// DefaultLimits fit every lavacli call with a wide margin.
var DefaultLimits = Limits{MaxDepth: 64, MaxValues: 1 << 20}

// Fault codes of the XML-RPC interop spec, as LAVA's dispatcher uses them.
const (
	CodeNotWellFormed    = -32700
	CodeInvalidRequest   = -32600
	CodeMethodNotFound   = -32601
	CodeInvalidParams    = -32602
	CodeInternalError    = -32603
	dateTimeLayout       = "20060102T15:04:05"
	dateTimeLayoutDashed = "2006-01-02T15:04:05"
)

// Fault is an XML-RPC fault; handlers return it as an error.
type Fault struct {
	Code   int
	String string
}

func (f *Fault) Error() string { return fmt.Sprintf("fault %d: %s", f.Code, f.String) }

// Faultf builds a Fault.
func Faultf(code int, format string, args ...any) *Fault {
	return &Fault{Code: code, String: fmt.Sprintf(format, args...)}
}

// DecodeCall reads a methodCall document. Values decode to int64 (int, i4,
// i8), float64, bool, string, time.Time (dateTime.iso8601, UTC), []byte
// (base64), nil, map[string]any (struct) and []any (array). Errors are
// *Fault with code -32700 (not well formed) or -32600 (not a call).
func DecodeCall(data []byte, lim Limits) (method string, params []any, err error) {
	if !utf8.Valid(data) {
		return "", nil, Faultf(CodeNotWellFormed, "request is not valid UTF-8")
	}
	d := &decoder{lim: lim, dec: xml.NewDecoder(bytes.NewReader(data))}
	d.dec.Strict = true
	// No entity map and no charset reader: only the five XML entities and
	// UTF-8 documents are accepted.
	d.dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "us-ascii") {
			return r, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	method, params, err = d.call()
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return "", nil, f
		}
		return "", nil, Faultf(CodeNotWellFormed, "parse error: %v", err)
	}
	return method, params, nil
}

type decoder struct {
	dec    *xml.Decoder
	lim    Limits
	values int
}

// next returns the next start or end element, skipping whitespace, comments
// and the XML declaration, and refusing DTDs and non-blank text.
func (d *decoder) next() (xml.Token, error) {
	for {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement, xml.EndElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, Faultf(CodeInvalidRequest, "unexpected text %.40q", string(t))
			}
		case xml.Directive:
			return nil, Faultf(CodeInvalidRequest, "DTDs and directives are not accepted")
		case xml.ProcInst, xml.Comment:
		}
	}
}

func (d *decoder) expectStart(name string) error {
	tok, err := d.next()
	if err != nil {
		return err
	}
	if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != name {
		return Faultf(CodeInvalidRequest, "expected <%s>, got %s", name, describe(tok))
	}
	return nil
}

func (d *decoder) expectEnd(name string) error {
	tok, err := d.next()
	if err != nil {
		return err
	}
	if ee, ok := tok.(xml.EndElement); !ok || ee.Name.Local != name {
		return Faultf(CodeInvalidRequest, "expected </%s>, got %s", name, describe(tok))
	}
	return nil
}

func describe(tok xml.Token) string {
	switch t := tok.(type) {
	case xml.StartElement:
		return "<" + t.Name.Local + ">"
	case xml.EndElement:
		return "</" + t.Name.Local + ">"
	}
	return fmt.Sprintf("%T", tok)
}

// text reads character data up to the end of the current element.
func (d *decoder) text(name string) (string, error) {
	var sb strings.Builder
	for {
		tok, err := d.dec.Token()
		if err != nil {
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.Comment, xml.ProcInst:
		case xml.EndElement:
			if t.Name.Local != name {
				return "", Faultf(CodeInvalidRequest, "expected </%s>", name)
			}
			return sb.String(), nil
		default:
			return "", Faultf(CodeInvalidRequest, "unexpected %s in <%s>", describe(tok), name)
		}
	}
}

func (d *decoder) call() (string, []any, error) {
	if err := d.expectStart("methodCall"); err != nil {
		return "", nil, err
	}
	if err := d.expectStart("methodName"); err != nil {
		return "", nil, err
	}
	method, err := d.text("methodName")
	if err != nil {
		return "", nil, err
	}
	method = strings.TrimSpace(method)
	params := []any{}
	tok, err := d.next()
	if err != nil {
		return "", nil, err
	}
	if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "params" {
		if params, err = d.params(); err != nil {
			return "", nil, err
		}
		if tok, err = d.next(); err != nil {
			return "", nil, err
		}
	}
	if ee, ok := tok.(xml.EndElement); !ok || ee.Name.Local != "methodCall" {
		return "", nil, Faultf(CodeInvalidRequest, "expected </methodCall>, got %s", describe(tok))
	}
	if _, err := d.next(); err != io.EOF {
		return "", nil, Faultf(CodeInvalidRequest, "trailing data after </methodCall>")
	}
	return method, params, nil
}

func (d *decoder) params() ([]any, error) {
	params := []any{}
	for {
		tok, err := d.next()
		if err != nil {
			return nil, err
		}
		if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "params" {
			return params, nil
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "param" {
			return nil, Faultf(CodeInvalidRequest, "expected <param>, got %s", describe(tok))
		}
		if err := d.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := d.value(1)
		if err != nil {
			return nil, err
		}
		params = append(params, v)
		if err := d.expectEnd("param"); err != nil {
			return nil, err
		}
	}
}

// value reads the content of a <value> whose start tag was consumed, and
// its end tag.
func (d *decoder) value(depth int) (any, error) {
	if depth > d.lim.MaxDepth {
		return nil, Faultf(CodeInvalidRequest, "values nested deeper than %d", d.lim.MaxDepth)
	}
	if d.values++; d.values > d.lim.MaxValues {
		return nil, Faultf(CodeInvalidRequest, "more than %d values", d.lim.MaxValues)
	}
	// A value without a type element is a string.
	var sb strings.Builder
	for {
		tok, err := d.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			sb.Write(t)
		case xml.Comment, xml.ProcInst:
		case xml.EndElement:
			return sb.String(), nil
		case xml.StartElement:
			if strings.TrimSpace(sb.String()) != "" {
				return nil, Faultf(CodeInvalidRequest, "text mixed with <%s>", t.Name.Local)
			}
			v, err := d.typed(t.Name.Local, depth)
			if err != nil {
				return nil, err
			}
			return v, d.expectEnd("value")
		default:
			return nil, Faultf(CodeInvalidRequest, "unexpected %s in <value>", describe(tok))
		}
	}
}

func (d *decoder) typed(name string, depth int) (any, error) {
	switch name {
	case "array":
		return d.array(depth)
	case "struct":
		return d.strct(depth)
	case "nil":
		return nil, d.expectEnd("nil")
	}
	s, err := d.text(name)
	if err != nil {
		return nil, err
	}
	return scalar(name, s)
}

func scalar(name, s string) (any, error) {
	switch name {
	case "string":
		return s, nil
	case "int", "i4", "i8":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || (name == "i4" && (n > math.MaxInt32 || n < math.MinInt32)) {
			return nil, Faultf(CodeInvalidRequest, "bad <%s> %.40q", name, s)
		}
		return n, nil
	case "boolean":
		switch strings.TrimSpace(s) {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
		return nil, Faultf(CodeInvalidRequest, "bad <boolean> %.40q", s)
	case "double":
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, Faultf(CodeInvalidRequest, "bad <double> %.40q", s)
		}
		return f, nil
	case "dateTime.iso8601":
		return parseDateTime(strings.TrimSpace(s))
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, Faultf(CodeInvalidRequest, "bad <base64>: %v", err)
		}
		return b, nil
	}
	return nil, Faultf(CodeInvalidRequest, "unknown value type <%s>", name)
}

func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{dateTimeLayout, dateTimeLayoutDashed, "20060102T150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, Faultf(CodeInvalidRequest, "bad <dateTime.iso8601> %.40q", s)
}

func (d *decoder) array(depth int) (any, error) {
	if err := d.expectStart("data"); err != nil {
		return nil, err
	}
	out := []any{}
	for {
		tok, err := d.next()
		if err != nil {
			return nil, err
		}
		if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "data" {
			return out, d.expectEnd("array")
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "value" {
			return nil, Faultf(CodeInvalidRequest, "expected <value> in <data>, got %s", describe(tok))
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

func (d *decoder) strct(depth int) (any, error) {
	out := map[string]any{}
	for {
		tok, err := d.next()
		if err != nil {
			return nil, err
		}
		if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "struct" {
			return out, nil
		}
		if se, ok := tok.(xml.StartElement); !ok || se.Name.Local != "member" {
			return nil, Faultf(CodeInvalidRequest, "expected <member>, got %s", describe(tok))
		}
		if err := d.expectStart("name"); err != nil {
			return nil, err
		}
		name, err := d.text("name")
		if err != nil {
			return nil, err
		}
		if err := d.expectStart("value"); err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		out[name] = v
		if err := d.expectEnd("member"); err != nil {
			return nil, err
		}
	}
}
