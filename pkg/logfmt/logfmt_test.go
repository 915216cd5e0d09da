package logfmt

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	dt := time.Date(2023, 1, 10, 10, 0, 0, 123456000, time.UTC)
	tests := []struct {
		name string
		in   Line
		want string
	}{
		{"plain", Line{DT: dt, Lvl: LevelInfo, Msg: "hello"},
			`{"dt": "2023-01-10T10:00:00.123456", "lvl": "info", "msg": "hello"}`},
		{"quotes and controls", Line{DT: dt, Lvl: LevelTarget, Msg: "a\"b\\c\r\x1b[6n\x7f"},
			`{"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "a\"b\\c\r\u001b[6n\u007f"}`},
		{"results map", Line{DT: dt, Lvl: LevelResults, Msg: map[string]any{"result": "pass", "case": "x", "definition": "0_smoke"}},
			`{"dt": "2023-01-10T10:00:00.123456", "lvl": "results", "msg": {"case": "x", "definition": "0_smoke", "result": "pass"}}`},
		{"invalid utf8 and C1", Line{DT: dt, Lvl: LevelTarget, Msg: "x\xff\u0085é"},
			`{"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "x\ufffd\u0085é"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Encode(tt.in)
			if got != tt.want {
				t.Fatalf("Encode = %s\nwant     %s", got, tt.want)
			}
			back, err := Decode("- " + got)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if back.Lvl != tt.in.Lvl || !back.DT.Equal(dt) {
				t.Fatalf("Decode = %+v", back)
			}
			var doc []map[string]any
			if err := yaml.Unmarshal([]byte(Document([]string{got})), &doc); err != nil {
				t.Fatalf("not valid YAML: %v", err)
			}
			if len(doc) != 1 || doc[0]["lvl"] != tt.in.Lvl {
				t.Fatalf("YAML decode = %v", doc)
			}
		})
	}
}

func TestDecodeRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "[]", `{"dt": "x", "lvl": "info", "msg": ""}`, `{"dt": "2023-01-10T10:00:00", "msg": ""}`, "\x00\xff"} {
		if _, err := Decode(in); err == nil {
			t.Errorf("Decode(%q) succeeded", in)
		}
	}
}

func TestMsgTruncates(t *testing.T) {
	t.Parallel()
	if got := Msg(strings.Repeat("a", MaxMsgLen)); got != "<line way too long ...>" {
		t.Fatalf("Msg = %q", got[:20])
	}
}
