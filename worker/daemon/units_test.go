package daemon

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golava/pkg/workerapi"
)

func TestMentionsWorker(t *testing.T) {
	t.Parallel()
	ev := func(topic, data string) string {
		return `["` + topic + `", "uuid", "2026-11-29T03:00:41.721417", "admin", ` + data + `]`
	}
	tests := []struct {
		name string
		msg  string
		want bool
	}{
		{"scheduled", ev("org.lavasoftware.testjob", `"{\"state\": \"Scheduled\", \"worker\": \"w1\"}"`), true},
		{"canceling", ev("org.lavasoftware.testjob", `"{\"state\": \"Canceling\", \"worker\": \"w1\"}"`), true},
		{"realm topic", ev("org.lavasoftware.lab2.testjob", `"{\"state\": \"Scheduled\", \"worker\": \"w1\"}"`), true},
		{"running", ev("org.lavasoftware.testjob", `"{\"state\": \"Running\", \"worker\": \"w1\"}"`), false},
		{"other worker", ev("org.lavasoftware.testjob", `"{\"state\": \"Scheduled\", \"worker\": \"w2\"}"`), false},
		{"no worker", ev("org.lavasoftware.testjob", `"{\"state\": \"Scheduled\", \"worker\": null}"`), false},
		{"device topic", ev("org.lavasoftware.device", `"{\"state\": \"Scheduled\", \"worker\": \"w1\"}"`), false},
		{"data not a string", ev("org.lavasoftware.testjob", `{"state": "Scheduled", "worker": "w1"}`), false},
		{"data not json", ev("org.lavasoftware.testjob", `"{state"`), false},
		{"four frames", `["org.lavasoftware.testjob", "u", "d", "{\"state\": \"Scheduled\", \"worker\": \"w1\"}"]`, false},
		{"garbage", `not json`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mentionsWorker([]byte(tt.msg), "w1"); got != tt.want {
				t.Errorf("mentionsWorker = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBuildEnv(t *testing.T) {
	t.Parallel()
	base := []string{"HOME=/root", "PATH=/bin", "LANG=C"}
	tests := []struct {
		name    string
		yaml    string
		want    []string
		wantErr bool
	}{
		{"empty", "", []string{"HOME=/root", "LANG=C", "PATH=/bin"}, false},
		{"removes and overrides", "removes: [LANG, NOPE]\noverrides:\n  PATH: /usr/bin\n  N: 3\n",
			[]string{"HOME=/root", "N=3", "PATH=/usr/bin"}, false},
		{"purge", "purge: true\noverrides: {A: b}\n", []string{"A=b"}, false},
		{"purge no (YAML 1.1 false)", "purge: no\n", []string{"HOME=/root", "LANG=C", "PATH=/bin"}, false},
		{"purge yes", "purge: yes\n", []string{}, false},
		{"bad yaml", "overrides: [", nil, true},
		{"overrides not a map", "overrides: [a]\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildEnv(base, tt.yaml)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDispatcherPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		yaml, want string
		wantErr    bool
	}{
		{"", "", false},
		{"prefix: lab-\n", "lab-", false},
		{"prefix: 12\n", "12", false},
		{"http_fqdn: x\n", "", false},
		{"- a list\n", "", false},
		{"prefix: ../../etc/\n", "", true},
		{"prefix: ..\n", "", true},
		{"prefix: [\n", "", true},
	}
	for _, tt := range tests {
		got, err := dispatcherPrefix(tt.yaml)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("dispatcherPrefix(%q) = %q, %v; want %q, error %v", tt.yaml, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestFinishOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string
		want  workerapi.Finish
	}{
		{"nothing", nil, workerapi.Finish{Result: "fail", ErrorType: "Bug"}},
		{"pass", map[string]string{fileResult: "definition: lava\ncase: job\nresult: pass\n", fileStderr: "w\n", fileDescription: "d\n"},
			workerapi.Finish{Result: "pass", Errors: "w\n", Description: "d\n"}},
		{"fail with type", map[string]string{fileResult: "result: fail\nerror_type: Job\n"},
			workerapi.Finish{Result: "fail", ErrorType: "Job"}},
		{"fail without type", map[string]string{fileResult: "result: fail\n"},
			workerapi.Finish{Result: "fail", ErrorType: "Bug"}},
		{"garbage result", map[string]string{fileResult: "[: x\n"}, workerapi.Finish{Result: "fail", ErrorType: "Bug"}},
		{"result a list", map[string]string{fileResult: "- pass\n"}, workerapi.Finish{Result: "fail", ErrorType: "Bug"}},
		{"invalid utf-8 stderr", map[string]string{fileStderr: "a\xffb"}, workerapi.Finish{Result: "fail", ErrorType: "Bug", Errors: "a\uFFFDb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, text := range tt.files {
				os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
			}
			if got := finishOf(dir); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadTailKeepsTheEnd(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "stderr")
	os.WriteFile(path, []byte(strings.Repeat("x", 100)+"the end"), 0o644)
	if got := readTail(path, 7); got != "the end" {
		t.Errorf("got %q", got)
	}
}

func TestJobTable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "jobs.json")
	tab, err := loadJobTable(path)
	if err != nil || !tab.empty() {
		t.Fatalf("missing file: %v, %v", tab.jobs, err)
	}
	now := time.Now().Round(0).UTC()
	tab.put(&jobRecord{ID: 3, PID: 42, Status: statusCanceling, LastUpdate: now, Prefix: "p-", Token: "t3"})
	tab.put(&jobRecord{ID: 1, Status: statusFinished, LastUpdate: now, Token: "t1"})
	if err := tab.save(); err != nil {
		t.Fatal(err)
	}
	again, err := loadJobTable(path)
	if err != nil || !reflect.DeepEqual(again.jobs, tab.jobs) {
		t.Fatalf("reloaded %v (%v), want %v", again.jobs, err, tab.jobs)
	}
	if ids := again.ids(); !reflect.DeepEqual(ids, []int64{1, 3}) {
		t.Errorf("ids %v", ids)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	for _, bad := range []string{"{", `{"jobs": [{"id": 1, "status": "exploded"}]}`} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := loadJobTable(path); err == nil {
			t.Errorf("loading %q: no error", bad)
		}
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for range 100 {
		if j := jitter(20 * time.Second); j < 19*time.Second || j > 21*time.Second {
			t.Fatalf("jitter(20s) = %v", j)
		}
	}
}
