package coordinator

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		limit   int
		want    string
		wantErr error // nil, ErrTooLarge, or frameErr for *FrameError
	}{
		{"exact", "00000002{}", 0, "{}", nil},
		{"lower-case hex", "0000000a" + `{"a": "b"}`, 0, `{"a": "b"}`, nil},
		{"characters not bytes", "00000004" + `"é"` + "x", 0, `"é"x`, nil},
		{"extra bytes after body ignored", "00000002{}garbage", 0, "{}", nil},
		{"short body up to EOF", "00000010{}", 0, "{}", nil},
		{"empty", "", 0, "", frameErr},
		{"short header", "0000", 0, "", frameErr},
		{"non-hex header", "0000000G{}", 0, "", frameErr},
		{"garbage", "GET / HTTP/1.1\r\n\r\n", 0, "", frameErr},
		{"huge length", "FFFFFFFF{}", 0, "", ErrTooLarge},
		{"over limit", "00000011" + strings.Repeat("a", 17), 16, "", ErrTooLarge},
		{"body bytes over limit", "00000004" + strings.Repeat("é", 4) + strings.Repeat("x", 20), 8, strings.Repeat("é", 4), nil},
		{"invalid UTF-8", "00000003a\xffb", 0, "", frameErr},
		{"truncated UTF-8 at EOF", "00000003ab\xc3", 0, "", frameErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadMessage(strings.NewReader(tt.in), tt.limit)
			switch {
			case tt.wantErr == frameErr:
				var fe *FrameError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want *FrameError", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("err = %v", err)
			}
			if tt.wantErr == nil && string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

var frameErr = errors.New("frame error")

func TestWriteMessageCountsCharacters(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteMessage(&b, "é{}"); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "00000003é{}" {
		t.Fatalf("got %q", got)
	}
}

func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{
		"00000002{}", `0000001A{"response": "wait"}`, "FFFFFFFF", "0000", "zzzzzzzz{}",
		"00000003a\xffb", "00000004" + `"é"` + "x",
		`000000A6{"port": 3079, "blocksize": 4096, "poll_delay": 1, "host": "localhost", "hostname": "w", "client_name": "1.0", "group_name": "g", "role": "r", "request": "group_data", "group_size": 2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		body, err := ReadMessage(bytes.NewReader(in), 1<<16)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("invalid UTF-8 body %q", body)
		}
		n, _ := parseHeader(in[:HeaderLen])
		if utf8.RuneCount(body) > n {
			t.Fatalf("body of %d characters longer than header %d", utf8.RuneCount(body), n)
		}
		again, err := ReadMessage(bytes.NewReader(AppendMessage(nil, string(body))), 1<<16)
		if err != nil || !bytes.Equal(again, body) {
			t.Fatalf("round trip of %q: %q, %v", body, again, err)
		}
		if v, err := ParseJSON(body); err == nil {
			if _, err := ParseJSON([]byte(EncodePython(v))); err != nil {
				t.Fatalf("re-encoded %q does not parse: %v", EncodePython(v), err)
			}
		}
	})
}
