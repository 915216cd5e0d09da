package xmlrpc

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	params := []any{
		int64(7), "a<b>&c", true, false, 1.5, when, []byte{0, 1, 255}, nil,
		[]any{int64(1), "x", []any{}},
		map[string]any{"k": int64(2), "nested": map[string]any{"s": "v"}},
	}
	doc, err := EncodeCall("scheduler.jobs.show", params...)
	if err != nil {
		t.Fatal(err)
	}
	method, got, err := DecodeCall(doc, DefaultLimits)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, doc)
	}
	if method != "scheduler.jobs.show" || !reflect.DeepEqual(got, params) {
		t.Fatalf("got %q %#v, want %#v", method, got, params)
	}
}

func TestDecodePythonShapes(t *testing.T) {
	t.Parallel()
	// What Python's xmlrpc.client sends: i4, untyped string, an empty params.
	doc := `<?xml version='1.0'?>
<methodCall><methodName>x</methodName><params>
<param><value><i4>-3</i4></value></param>
<param><value>bare text</value></param>
<param><value><i8>9000000000</i8></value></param>
<param><value><dateTime.iso8601>2023-01-02T03:04:05</dateTime.iso8601></value></param>
</params></methodCall>`
	_, got, err := DecodeCall([]byte(doc), DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(-3), "bare text", int64(9000000000), time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
	if _, ps, err := DecodeCall([]byte(`<methodCall><methodName>m</methodName></methodCall>`), DefaultLimits); err != nil || len(ps) != 0 {
		t.Fatalf("no params: %v %v", ps, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<value><array><data>", 10000) + strings.Repeat("</data></array></value>", 10000)
	cases := map[string]string{
		"billion laughs": `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>` +
			`<methodCall><methodName>&lol2;</methodName></methodCall>`,
		"external entity": `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
			`<methodCall><methodName>&xxe;</methodName></methodCall>`,
		"undeclared entity": `<methodCall><methodName>&xxe;</methodName></methodCall>`,
		"deep nesting":      `<methodCall><methodName>m</methodName><params><param>` + deep + `</param></params></methodCall>`,
		"invalid utf-8":     "<methodCall><methodName>m\xff</methodName></methodCall>",
		"latin-1":           `<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>m</methodName></methodCall>`,
		"bad int":           `<methodCall><methodName>m</methodName><params><param><value><int>x</int></value></param></params></methodCall>`,
		"i4 overflow":       `<methodCall><methodName>m</methodName><params><param><value><i4>9000000000</i4></value></param></params></methodCall>`,
		"unknown type":      `<methodCall><methodName>m</methodName><params><param><value><blob>1</blob></value></param></params></methodCall>`,
		"truncated":         `<methodCall><methodName>m</methodName><params>`,
		"trailing":          `<methodCall><methodName>m</methodName></methodCall><methodCall/>`,
		"not a call":        `<methodResponse/>`,
		"empty":             ``,
		"bad base64":        `<methodCall><methodName>m</methodName><params><param><value><base64>!!</base64></value></param></params></methodCall>`,
		"bad boolean":       `<methodCall><methodName>m</methodName><params><param><value><boolean>yes</boolean></value></param></params></methodCall>`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := DecodeCall([]byte(doc), DefaultLimits)
			var f *Fault
			if !errors.As(err, &f) || f.Code >= 0 {
				t.Fatalf("want a negative fault, got %v", err)
			}
		})
	}
}

func TestEncodeEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := EncodeResponse(&buf, Struct{{"s", "a\x1b[0m\r\n\xff<"}}); err != nil {
		t.Fatal(err)
	}
	v, err := DecodeResponse(buf.Bytes(), DefaultLimits)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got := v.(map[string]any)["s"]; got != "a\uFFFD[0m\r\n\uFFFD<" {
		t.Fatalf("got %q", got)
	}
	buf.Reset()
	_ = EncodeFault(&buf, Faultf(404, "Job '%d' was not found.", 3))
	_, err = DecodeResponse(buf.Bytes(), DefaultLimits)
	var f *Fault
	if !errors.As(err, &f) || f.Code != 404 || f.String != "Job '3' was not found." {
		t.Fatalf("fault: %v", err)
	}
}

func FuzzDecodeCall(f *testing.F) {
	doc, _ := EncodeCall("m", int64(1), "s", []any{map[string]any{"a": []byte("x")}}, nil, 2.5, true)
	f.Add(doc)
	f.Add([]byte(`<!DOCTYPE x><methodCall/>`))
	f.Add([]byte(`<methodCall><methodName>m</methodName><params><param><value>x</value></param></params></methodCall>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		method, params, err := DecodeCall(data, Limits{MaxDepth: 16, MaxValues: 1000})
		if err != nil {
			var fl *Fault
			if !errors.As(err, &fl) {
				t.Fatalf("error is not a fault: %v", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same values.
		again, err := EncodeCall(method, params...)
		if err != nil {
			t.Fatal(err)
		}
		m2, p2, err := DecodeCall(again, Limits{MaxDepth: 17, MaxValues: 1001})
		if err != nil {
			t.Fatalf("re-decode: %v\n%s", err, again)
		}
		if strings.TrimSpace(method) != m2 || !reflect.DeepEqual(normalize(params), normalize(p2)) {
			t.Fatalf("round trip changed %q %#v into %q %#v", method, params, m2, p2)
		}
	})
}

// normalize maps strings through the encoder's replacement of characters
// XML cannot carry.
func normalize(v any) any {
	switch x := v.(type) {
	case string:
		var buf bytes.Buffer
		escape(&buf, x)
		return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#13;", "\r").Replace(buf.String())
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[normalize(k).(string)] = normalize(e)
		}
		return out
	}
	return v
}
