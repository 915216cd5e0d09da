package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/worker/daemon"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, o options)
		wantErr string
	}{
		{
			name: "defaults",
			args: []string{"--url", "http://lava/"},
			check: func(t *testing.T, o options) {
				c := o.cfg
				if c.Name != host || c.WorkerDir != daemon.DefaultWorkerDir || c.PingInterval != 20*time.Second ||
					c.HTTPTimeout != 10*time.Minute || c.JobLogInterval != 5 || c.LavaRun != "lava-run" || !c.Nice ||
					o.level != slog.LevelInfo || o.logFile != defaultLogFile || o.logSet {
					t.Errorf("defaults: %+v", o)
				}
			},
		},
		{
			name: "environment",
			args: []string{"--ping-interval=3"},
			env: map[string]string{"LAVA_SERVER_URL": "http://lava", "LAVA_WORKER_NAME": "w2", "LAVA_PING_INTERVAL": "7",
				"LAVA_NICE": "false", "LAVA_LOG_LEVEL": "debug", "LAVA_LOG_FILE": "-", "LAVA_WORKER_USERNAME": "admin",
				"LAVA_WORKER_PASSWORD": "pw"},
			check: func(t *testing.T, o options) {
				c := o.cfg
				if c.URL != "http://lava" || c.Name != "w2" || c.PingInterval != 3*time.Second || c.Nice ||
					o.level != slog.LevelDebug || !o.logSet || c.Username != "admin" || c.Password != "pw" || o.password {
					t.Errorf("from env: %+v", o)
				}
			},
		},
		{
			name: "flags",
			args: []string{"--url=http://l", "--name", "lab-1.example", "--token", "T", "-l", "ERROR", "--wait-jobs",
				"--exit-on-version-mismatch", "--debug", "--lava-run", "/opt/lava-run", "--username", ""},
			check: func(t *testing.T, o options) {
				c := o.cfg
				if c.Name != "lab-1.example" || c.Token != "T" || o.level != slog.LevelError || !c.WaitJobs ||
					!c.ExitOnVersionMismatch || !c.Debug || c.LavaRun != "/opt/lava-run" {
					t.Errorf("flags: %+v", o)
				}
			},
		},
		{
			name: "username prompts",
			args: []string{"--url=http://l", "--username", "admin"},
			check: func(t *testing.T, o options) {
				if !o.password {
					t.Error("no password prompt")
				}
			},
		},
		{name: "no url", args: nil, wantErr: "--url is required"},
		{name: "bad name", args: []string{"--url=u", "--name=a b"}, wantErr: "--name"},
		{name: "token and username", args: []string{"--url=u", "--token=t", "--username=u"}, wantErr: "mutually exclusive"},
		{name: "bad level", args: []string{"--url=u", "--level=LOUD"}, wantErr: "--level"},
		{name: "bad env integer", env: map[string]string{"LAVA_PING_INTERVAL": "soon"}, wantErr: "LAVA_PING_INTERVAL"},
		{name: "zero interval", args: []string{"--url=u", "--ping-interval=0"}, wantErr: "positive"},
		{name: "stray argument", args: []string{"--url=u", "extra"}, wantErr: "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tt.args, lookupIn(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, o)
		})
	}
}

// A version mismatch with --exit-on-version-mismatch exits 0, as LAVA.
func TestRunExitsOnVersionMismatch(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"error": "Version mismatch '2023.01' vs '2024.01'"}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "worker.log")
	code := run([]string{"--url", srv.URL, "--name", "w1", "--token", "t", "--worker-dir", dir,
		"--exit-on-version-mismatch", "--log-file", logFile}, lookupIn(nil), os.Stdin, io.Discard)
	if code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	data, _ := os.ReadFile(logFile)
	if !strings.Contains(string(data), "Version mismatch") {
		t.Errorf("log file:\n%s", data)
	}
}

// logrotate moves the file away: the next line goes to a new file.
func TestWatchedFileReopens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "worker.log")
	w, err := openLog(path, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	io.WriteString(w, "one\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "two\n")
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "one\n" || string(cur) != "two\n" {
		t.Errorf("rotated %q, current %q", old, cur)
	}
}
