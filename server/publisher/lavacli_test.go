package publisher_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"golava/pkg/events"
	"golava/server/publisher"
	"golava/server/store/storetest"
)

// lavaRefDir is the unpacked Debian LAVA packages: LAVA_REF_DIR, else
// <repo>/.cache/lava-ref (made by `make ref`).
func lavaRefDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("LAVA_REF_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, ".cache", "lava-ref")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// debianPython is the interpreter that sees Debian's python3-* packages:
// LAVA_PYTHON, else /usr/bin/python3.
func debianPython() string {
	if p := os.Getenv("LAVA_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// TestLavacliReceivesEvents runs lavacli's event printing behind the client
// libraries it uses (aiohttp WebSocket, pyzmq SUB) against the hub. Needs
// the Debian packages python3-aiohttp and python3-zmq.
func TestLavacliReceivesEvents(t *testing.T) {
	t.Parallel()
	pyPath := filepath.Join(lavaRefDir(t), "usr", "lib", "python3", "dist-packages")
	if _, err := os.Stat(filepath.Join(pyPath, "lavacli", "commands", "events.py")); err != nil {
		t.Fatalf("LAVA reference packages missing (%v): run `make ref` or set LAVA_REF_DIR", err)
	}
	st := storetest.New(t)
	h := publisher.NewHub(st, testLogger(t), publisher.HubConfig{ZMQListen: "tcp://127.0.0.1:0"})
	hubRun(t, h)
	url := startWS(t, h)

	const marker = "golava-test"
	sent := []struct{ topic, user, data, line string }{
		{"device", "lavaserver", `{"health": "Good", "state": "Idle", "device": "golava-test", "device_type": "qemu", "worker": null}`,
			"org.lavasoftware.device lavaserver - [golava-test] <qemu> state=Idle health=Good"},
		{"testjob", "alice", `{"health": "Unknown", "state": "Submitted", "job": 12, "description": "golava-test", "priority": 50, "submit_time": "2026-11-29T03:00:41.721417+00:00", "submitter": "alice", "health_check": false}`,
			"org.lavasoftware.testjob alice - [12] <??> state=Submitted health=Unknown (golava-test)"},
		{"worker", "lavaserver", `{"hostname": "golava-test", "health": "Active", "state": "Online"}`,
			"org.lavasoftware.worker lavaserver - [golava-test] state=Online health=Active"},
		{"event", "lavaserver", `{"message": "golava-test \u00e9", "job": 12}`,
			"org.lavasoftware.event lavaserver - [12] message=golava-test é"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython(), filepath.Join("testdata", "lavacli_events.py"), url, h.ZMQAddr(), "4")
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pyPath)
	cmd.Stderr = tWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitLine := func(what string) {
		t.Helper()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("client exited before %s: %v", what, cmd.Wait())
				}
				if l == what {
					return
				}
			case <-tick.C:
				if what == "ZMQ-WARM" {
					insertEvent(t, st, "worker", "lavaserver", `{"hostname": "warm-up", "health": "Active", "state": "Online"}`)
				}
			case <-ctx.Done():
				t.Fatalf("no %s from the client", what)
			}
		}
	}
	waitLine("WS-CONNECTED")
	waitLine("ZMQ-WARM")
	var want []string
	for _, s := range sent {
		ev := insertEvent(t, st, s.topic, s.user, s.data)
		if !strings.Contains(ev.Data, marker) {
			t.Fatal("marker missing")
		}
		dt := events.PyISOTime(ev.Time)
		want = append(want, "WS "+dt+" "+s.line, "ZMQ "+dt+" "+s.line)
	}
	var got []string
	for l := range lines {
		if l != "ZMQ-WARM" {
			got = append(got, l)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client: %v", err)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lavacli printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
