package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestOrderedMatchesPythonDumps(t *testing.T) {
	t.Parallel()
	submit := time.Date(2026, 11, 29, 3, 0, 41, 721417000, time.UTC)
	var o Ordered
	o.Set("health", "Unknown").Set("state", "Submitted").Set("job", int64(12)).
		Set("description", "smoke é").Set("priority", 50).Set("submit_time", submit).
		Set("submitter", "admin").Set("health_check", false).Set("worker", nil)
	want := `{"health": "Unknown", "state": "Submitted", "job": 12, "description": "smoke \u00e9", "priority": 50, "submit_time": "2026-11-29T03:00:41.721417+00:00", "submitter": "admin", "health_check": false, "worker": null}`
	if got := o.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(o.String()), &m); err != nil {
		t.Fatal(err)
	}
}

func TestWSMessageIsArrayOfFiveStrings(t *testing.T) {
	t.Parallel()
	e := Event{Topic: TopicDevice, UUID: "u-1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Username: ServerUser, Data: `{"health": "Good"}`}
	var parts []string
	if err := json.Unmarshal(e.WSMessage(DefaultPrefix), &parts); err != nil {
		t.Fatal(err)
	}
	want := []string{"org.lavasoftware.device", "u-1", "2026-01-02T03:04:05", "lavaserver", `{"health": "Good"}`}
	for i := range want {
		if parts[i] != want[i] {
			t.Fatalf("frame %d = %q, want %q", i, parts[i], want[i])
		}
	}
}

func TestWritePyStringMatchesEnsureASCII(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"del\x7f", "\"del\x7f\""}, // ASCII DEL is not escaped by json.dumps
		{"tab\tnl\n\x01", `"tab\tnl\n\u0001"`},
		{"é€", `"\u00e9\u20ac"`},
		{"😀", `"\ud83d\ude00"`},
		{`q"b\`, `"q\"b\\"`},
	}
	for _, tt := range tests {
		var b strings.Builder
		WritePyString(&b, tt.in)
		if b.String() != tt.want {
			t.Errorf("WritePyString(%q) = %s, want %s", tt.in, b.String(), tt.want)
		}
	}
}

func TestParseRealmSockets(t *testing.T) {
	got, err := ParseRealmSockets(" blue=tcp://127.0.0.1:5501, green = tcp://127.0.0.1:5502 ,")
	if err != nil || len(got) != 2 || got["blue"] != "tcp://127.0.0.1:5501" || got["green"] != "tcp://127.0.0.1:5502" {
		t.Fatalf("got %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"blue":                    "want REALM=ADDRESS",
		"=tcp://x":                "want REALM=ADDRESS",
		"default=tcp://x":         "main one",
		"blue=tcp://a,blue=tcp:b": "given twice",
	} {
		if _, err := ParseRealmSockets(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
