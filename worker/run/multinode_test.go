package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/coordinator"
)

func TestSplitSendParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"SEND", "ready", []string{"ready"}},
		{"SEND", "ready ip=10.0.0.1 port=80", []string{"ready", "ip=10.0.0.1", "port=80"}},
		{"SEND", "msg text=a b c n=1", []string{"msg", "text=a b c", "n=1"}},
		{"WAIT_ALL", "id  role", []string{"id", "role"}},
		{"SYNC", "done", []string{"done"}},
	}
	for _, tt := range tests {
		if got := splitSendParams(tt.name, tt.in); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s %q = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestMultinodeSignal(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]string{
		"<LAVA_MULTI_NODE> <LAVA_SEND ready ip=1>": "SEND",
		"  <LAVA_MULTI_NODE> <LAVA_SYNC done>":     "SYNC",
		"+ echo <LAVA_MULTI_NODE> <LAVA_SYNC x>":   "",
		"<LAVA_MULTI_NODE> <LAVA_WAIT>":            "",
	} {
		m := mnSignal.FindStringSubmatch(line)
		got := ""
		if m != nil {
			got = m[1]
		}
		if got != want {
			t.Errorf("%q: got %q, want %q", line, got, want)
		}
	}
}

func TestMessagePairs(t *testing.T) {
	t.Parallel()
	msg := coordinator.NewObject().
		Set("12", coordinator.NewObject().Set("ip", "10.0.0.1").Set("port", "80")).
		Set("13", coordinator.NewObject().Set("n", 3))
	if got := messagePairs(&coordinator.Reply{Response: "ack", Message: msg}); got != " 12:ip=10.0.0.1 12:port=80 13:n=3" {
		t.Errorf("pairs = %q", got)
	}
	if got := messagePairs(&coordinator.Reply{Response: "nack"}); got != " nack" {
		t.Errorf("nack = %q", got)
	}
}

func TestCoordinatorConf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "lava-coordinator.conf")
	if err := os.WriteFile(p, []byte(`{"port": 3080, "blocksize": 4096, "poll_delay": 0.5, "coordinator_hostname": "coord.lab"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c, ok, err := ReadCoordinatorConf(p)
	if err != nil || !ok || c.Host != "coord.lab" || c.Port != 3080 || c.PollDelay != 500*time.Millisecond {
		t.Fatalf("conf = %+v %v %v", c, ok, err)
	}
	if err := c.SetAddr("127.0.0.1:4000"); err != nil || c.Host != "127.0.0.1" || c.Port != 4000 {
		t.Fatalf("SetAddr: %+v %v", c, err)
	}
	if err := c.SetAddr("h:x"); err == nil {
		t.Fatal("bad port accepted")
	}
	if _, ok, err := ReadCoordinatorConf(filepath.Join(dir, "missing")); ok || err != nil {
		t.Fatalf("missing file: %v %v", ok, err)
	}
	if err := os.WriteFile(p, []byte(`{`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadCoordinatorConf(p); err == nil {
		t.Fatal("broken JSON accepted")
	}
}
