package coordinator

import (
	"testing"
)

// FuzzParseJSON: any input either fails cleanly or parses to a value whose
// Python-style encoding parses again to the same encoding (requests are
// parsed, then replies and the state file are written with EncodePython).
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"request": "lava_send", "messageID": "m", "message": {"k": "v"}, "group_size": 2}`,
		`{"a": [1, 2.5, -3e2, true, false, null, "\u00e9\ud83d\ude00"]}`,
		`{"a": {"b": {"c": {}}}, "a": 1}`,
		`[]`, `"x"`, `{`, `{"a" 1}`, `{} {}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseJSON(b)
		if err != nil {
			return
		}
		enc := EncodePython(v)
		v2, err := ParseJSON([]byte(enc))
		if err != nil {
			t.Fatalf("encoding of %q does not parse: %q: %v", b, enc, err)
		}
		if enc2 := EncodePython(v2); enc2 != enc {
			t.Fatalf("round trip changed %q into %q", enc, enc2)
		}
	})
}
