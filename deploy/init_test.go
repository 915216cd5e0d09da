package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// lavaServerBin is lava-server from LAVA_BIN_DIR (make test) or built now.
func lavaServerBin(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("LAVA_BIN_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "lava-server")); err == nil {
			return dir
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "build", "-o", dir+"/", "golava/cmd/lava-server").CombinedOutput(); err != nil {
		t.Fatalf("build lava-server: %v\n%s", err, out)
	}
	return dir
}

// TestComposeInitScript runs the compose lab's set-up twice against a real
// database: the second run must change nothing and fail on nothing.
func TestComposeInitScript(t *testing.T) {
	t.Parallel()
	bin := lavaServerBin(t)
	url := storetest.URL(t)
	shared := t.TempDir()
	script, err := filepath.Abs("docker/lab-init.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func() string {
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "LAVA_DATABASE_URL="+url,
			"SHARED="+shared, "BOARDS=2")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lab-init.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	run()
	token, err := os.ReadFile(filepath.Join(shared, "worker1.token"))
	if err != nil || len(strings.TrimSpace(string(token))) < 20 || strings.Contains(string(token), " ") {
		t.Fatalf("worker token file: %q, %v", token, err)
	}
	admin, err := os.ReadFile(filepath.Join(shared, "admin.token"))
	if err != nil || len(strings.TrimSpace(string(admin))) < 20 {
		t.Fatalf("admin token file: %q, %v", admin, err)
	}
	run()
	if again, _ := os.ReadFile(filepath.Join(shared, "worker1.token")); string(again) != string(token) {
		t.Error("a second run replaced the worker token")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var devices, workers, users int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM devices d JOIN device_types t ON t.id = d.device_type_id
	        JOIN workers w ON w.id = d.worker_id WHERE t.name = 'dut-sim' AND w.hostname = 'worker1'
	        AND d.dictionary LIKE '%/var/lib/lava/boards/' || d.hostname || '%'),
	    (SELECT count(*) FROM workers), (SELECT count(*) FROM users WHERE is_superuser)`).Scan(&devices, &workers, &users)
	if err != nil {
		t.Fatal(err)
	}
	if devices != 2 || workers != 1 || users != 1 {
		t.Errorf("after two runs: %d dut-sim devices on worker1, %d workers, %d superusers; want 2, 1, 1", devices, workers, users)
	}
	// The admin token authenticates: it is a token, not a line of text.
	var tokens int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&tokens); err != nil || tokens != 1 {
		t.Errorf("tokens: %d, %v", tokens, err)
	}
}
