package coordinator

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
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

// TestLAVAClient runs lava_dispatcher's own MultinodeProtocol, two nodes with
// a delayed start, against this coordinator.
func TestLAVAClient(t *testing.T) {
	t.Parallel()
	ref := lavaRefDir(t)
	pyPath := filepath.Join(ref, "usr", "lib", "python3", "dist-packages")
	if _, err := os.Stat(filepath.Join(pyPath, "lava_dispatcher", "protocols", "multinode.py")); err != nil {
		t.Fatalf("LAVA reference packages missing (%v): run `make ref` or set LAVA_REF_DIR", err)
	}
	srv := startServer(t, Config{})
	port := srv.Addr().(*net.TCPAddr).Port
	server := map[string]any{
		"port": port, "group": "compat", "job_id": "100.0", "sub_id": 0, "role": "server", "group_size": 2,
		"steps": []any{
			"lava_start",
			map[string]any{"request": "lava-send", "messageID": "ready", "message": map[string]any{"ip": "10.0.0.1"}},
			map[string]any{"request": "lava-sync", "messageID": "sync1"},
			map[string]any{"request": "lava-send", "messageID": "done"},
			map[string]any{"request": "lava-sync", "messageID": "sync2"},
			map[string]any{"request": "lava-wait-all", "messageID": "done"},
		},
	}
	client := map[string]any{
		"port": port, "group": "compat", "job_id": "100.1", "sub_id": 1, "role": "client", "group_size": 2,
		"expect_role": "server",
		"steps": []any{
			map[string]any{"request": "lava-wait", "messageID": "ready"},
			map[string]any{"request": "lava-sync", "messageID": "sync1"},
			map[string]any{"request": "lava-send", "messageID": "done", "message": map[string]any{"k": "v"}},
			// LAVA answers a role wait as soon as this client's own role has
			// sent the ID; sync first so the server's message is there too.
			map[string]any{"request": "lava-sync", "messageID": "sync2"},
			map[string]any{"request": "lava-wait-all", "messageID": "done", "role": "server"},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	results := make(chan map[string]any, 2)
	for _, cfg := range []map[string]any{server, client} {
		go func() { results <- runLAVAClient(ctx, t, pyPath, cfg) }()
	}
	got := map[string]map[string]any{}
	for range 2 {
		r := <-results
		if r == nil {
			t.FailNow()
		}
		got[r["who"].(string)] = r
	}
	roles := map[string]any{"response": "group_data", "roles": map[string]any{"100.0": "server", "100.1": "client"}}
	check := func(who, key string, want any) {
		t.Helper()
		if g := got[who][key]; !reflect.DeepEqual(g, want) {
			t.Errorf("%s %s:\n got  %#v\n want %#v", who, key, g, want)
		}
	}
	check("100.0", "group_data", roles)
	check("100.1", "group_data", roles)
	check("100.1", "delayed_start", map[string]any{"response": "ack", "message": map[string]any{"100.0": map[string]any{}}})
	check("100.0", "steps", []any{
		map[string]any{"response": "ack"}, "ack", "sync1", "ack", "sync2",
		map[string]any{"100.0": map[string]any{}, "100.1": map[string]any{"k": "v"}},
	})
	check("100.1", "steps", []any{
		map[string]any{"100.0": map[string]any{"ip": "10.0.0.1"}}, "sync1", "ack", "sync2",
		map[string]any{"100.0": map[string]any{}, "100.1": map[string]any{"k": "v"}},
	})
	if n := srv.Groups(); n != 0 {
		t.Errorf("%d groups left after both clear_group", n)
	}
}

// debianPython is the interpreter that sees Debian's python3-* packages
// (lava_dispatcher needs python3-yaml): LAVA_PYTHON, else /usr/bin/python3.
func debianPython() string {
	if p := os.Getenv("LAVA_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

func runLAVAClient(ctx context.Context, t *testing.T, pyPath string, cfg map[string]any) map[string]any {
	arg, _ := json.Marshal(cfg)
	cmd := exec.CommandContext(ctx, debianPython(), filepath.Join("testdata", "lava_client.py"), string(arg))
	cmd.Env = append(os.Environ(), "PYTHONPATH="+pyPath)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("lava client %s: %v\n%s", cfg["job_id"], err, stderr.String())
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Errorf("lava client %s output %q: %v\n%s", cfg["job_id"], stdout.String(), err, stderr.String())
		return nil
	}
	out["who"] = cfg["job_id"]
	return out
}
