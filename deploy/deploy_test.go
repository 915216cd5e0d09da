package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"golava/pkg/metrics"
	"golava/server/ops"
	"golava/server/publisher"
)

// composeValidator returns the command that validates a compose file
// without an engine: the compose plugin of the docker client when it has
// one, else Debian's docker-compose (scripts/install-deps.sh test installs it).
func composeValidator(t *testing.T) []string {
	t.Helper()
	if docker, err := exec.LookPath("docker"); err == nil {
		if exec.Command(docker, "compose", "version").Run() == nil {
			return []string{docker, "compose"}
		}
	}
	dc, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("neither 'docker compose' nor docker-compose found: run scripts/install-deps.sh test (Debian package docker-compose)")
	}
	return []string{dc}
}

func composeConfig(t *testing.T, file string) (string, error) {
	t.Helper()
	v := composeValidator(t)
	cmd := exec.Command(v[0], append(v[1:], "--project-directory", filepath.Dir(file), "-f", file, "config", "-q")...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent") // never reach an engine
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestComposeConfigAccepted(t *testing.T) {
	t.Parallel()
	if out, err := composeConfig(t, "../docker-compose.yml"); err != nil {
		t.Fatalf("compose config rejects docker-compose.yml: %v\n%s", err, out)
	}
	// The validator does reject a broken file.
	bad := filepath.Join(t.TempDir(), "docker-compose.yml")
	if err := os.WriteFile(bad, []byte("services:\n  x:\n    image: a\n    depends_on: {y: {condition: nonsense}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := composeConfig(t, bad); err == nil {
		t.Fatalf("compose config accepts a broken file:\n%s", out)
	}
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	var doc struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Command []string `yaml:"command"`
			Build   struct {
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
		} `yaml:"services"`
	}
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db", "server", "scheduler", "publisher", "coordinator", "worker"} {
		if _, ok := doc.Services[name]; !ok {
			t.Errorf("compose has no service %s", name)
		}
	}
	for name, s := range doc.Services {
		if name == "db" {
			continue
		}
		if _, err := os.Stat(filepath.Join("..", s.Build.Dockerfile)); s.Build.Dockerfile == "" || err != nil {
			t.Errorf("service %s: dockerfile %q: %v", name, s.Build.Dockerfile, err)
		}
		if len(s.Command) == 0 {
			t.Errorf("service %s has no command", name)
			continue
		}
		prog := s.Command[0]
		if strings.HasPrefix(prog, "/usr/share/golava/") {
			prog = filepath.Join("docker", filepath.Base(prog))
		} else {
			prog = filepath.Join("..", "cmd", prog)
		}
		if _, err := os.Stat(prog); err != nil {
			t.Errorf("service %s runs %s: %v", name, s.Command[0], err)
		}
	}
}

func TestDockerfileAndScripts(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "COPY" || strings.HasPrefix(f[1], "--") || f[1] == "." {
			continue
		}
		for _, src := range f[1 : len(f)-1] {
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("Dockerfile copies %s: %v", src, err)
			}
		}
	}
	for _, s := range []string{"docker/lab-init.sh", "docker/worker-entrypoint.sh"} {
		if out, err := exec.Command("sh", "-n", s).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", s, err, out)
		}
		if st, err := os.Stat(s); err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", s)
		}
	}
}

// exported returns the names of the metrics golava's collectors export.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	var cs []prometheus.Collector
	cs = append(cs, ops.NewDBCollector(nil, nil))
	cs = append(cs, ops.NewSchedulerMetrics().Collectors()...)
	cs = append(cs, ops.PublisherCollectors(fakeHub{})...)
	cs = append(cs, metrics.NewWorkerMetrics().Collectors()...)
	cs = append(cs, ops.NewRetention(nil, 1, ops.Policy{}, nil).Collectors()...)
	names := map[string]bool{
		// Unexported in server/api and cmd/lava-coordinator; their tests
		// (server/api, server/lab) scrape them by these names.
		"lava_http_requests_total": true, "lava_http_request_duration_seconds": true, "lava_coordinator_groups": true,
	}
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for _, c := range cs {
		ch := make(chan *prometheus.Desc, 64)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = true
			}
		}
	}
	return names
}

type fakeHub struct{}

func (fakeHub) Stats() publisher.Stats { return publisher.Stats{} }

func TestGrafanaDashboardUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/golava.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("golava.json: %v", err)
	}
	names := exported(t)
	used := map[string]bool{}
	metricRE := regexp.MustCompile(`\blava_[a-z_]+`)
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metricRE.FindAllString(tg.Expr, -1) {
				base := m
				for _, suf := range []string{"_bucket", "_count", "_sum"} {
					if b, ok := strings.CutSuffix(m, suf); ok && names[b] {
						base = b
					}
				}
				if !names[base] {
					t.Errorf("panel %q queries %s, which golava does not export", p.Title, m)
				}
				used[base] = true
			}
		}
	}
	// Every metric is on the dashboard, except the ones only alerts need.
	for n := range names {
		if !used[n] && !slices.Contains([]string{"lava_publisher_replays_total", "lava_publisher_waiting_gap", "lava_run_console_lines_total"}, n) {
			t.Errorf("metric %s is on no dashboard panel", n)
		}
	}
}

var envRE = regexp.MustCompile(`\bLAVA_[A-Z_]+`)

// knownEnv is every LAVA_* name the commands read.
func knownEnv(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	files, err := filepath.Glob("../cmd/*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envRE.FindAllString(string(b), -1) {
			known[m] = true
		}
	}
	return known
}

func TestSystemdUnitsAndExamples(t *testing.T) {
	t.Parallel()
	known := knownEnv(t)
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) < 5 {
		t.Fatalf("units: %v", units)
	}
	files := append(units, "systemd/server.env.example", "systemd/worker.env.example")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range envRE.FindAllString(string(b), -1) {
			if !known[m] {
				t.Errorf("%s sets %s, which no command reads", f, m)
			}
		}
	}
	dir := t.TempDir()
	for _, u := range units {
		sections := map[string]bool{}
		var start string
		f, err := os.Open(u)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "[") {
				sections[line] = true
			}
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				start = strings.Fields(v)[0]
				line = "ExecStart=/bin/true" // verify needs an executable here
			}
			if strings.HasPrefix(line, "EnvironmentFile=") {
				line = "EnvironmentFile=-" + strings.TrimPrefix(line, "EnvironmentFile=")
			}
			lines = append(lines, line)
		}
		f.Close()
		for _, s := range []string{"[Unit]", "[Service]", "[Install]"} {
			if !sections[s] {
				t.Errorf("%s: no %s", u, s)
			}
		}
		if _, err := os.Stat(filepath.Join("..", "cmd", filepath.Base(start))); start == "" || err != nil {
			t.Errorf("%s starts %q, not a golava command", u, start)
		}
		copyPath := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(copyPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Fatal("systemd-analyze not found: run scripts/install-deps.sh test (Debian package systemd)")
		}
		// verify exits 0 on unknown keys: any output is a finding.
		if out, err := exec.Command(sa, "verify", copyPath).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out)
		}
	}
	if _, err := ops.LoadPolicy("config/retention.yaml"); err != nil {
		t.Error(err)
	}
}
