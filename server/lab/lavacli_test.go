package lab_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// The real lavacli (Debian's /usr/bin/lavacli, lavacli 1.2) drives lava-lab
// over /RPC2 through every command group it has.

type lavacli struct {
	t    *testing.T
	home string
	uri  string
}

// run runs lavacli with args and returns its output and exit code.
func (l *lavacli) run(args ...string) (string, int) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/lavacli", args...)
	cmd.Env = append(os.Environ(), "HOME="+l.home, "XDG_CONFIG_HOME="+filepath.Join(l.home, ".config"))
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			l.t.Fatalf("lavacli %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// ok runs lavacli against the lab and fails unless it exits 0.
func (l *lavacli) ok(args ...string) string {
	l.t.Helper()
	out, code := l.run(append([]string{"--uri", l.uri}, args...)...)
	if code != 0 {
		l.t.Fatalf("lavacli %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// fails runs lavacli and wants a non-zero exit and want in the output.
func (l *lavacli) fails(want string, args ...string) {
	l.t.Helper()
	out, code := l.run(append([]string{"--uri", l.uri}, args...)...)
	if code == 0 || !strings.Contains(out, want) {
		l.t.Fatalf("lavacli %s: exit %d, want failure with %q\n%s", strings.Join(args, " "), code, want, out)
	}
}

func contains(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: want %q in\n%s", what, w, out)
		}
	}
}

// with returns a copy reporting to t (a subtest).
func (l *lavacli) with(t *testing.T) *lavacli {
	c := *l
	c.t = t
	return &c
}

func newLavacli(t *testing.T, l *lab) *lavacli {
	u, err := url.Parse(l.base)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("admin", l.token)
	u.Path = "/RPC2"
	return &lavacli{t: t, home: t.TempDir(), uri: u.String()}
}

func writeTemp(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLavacli(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	cli := newLavacli(t, l)

	t.Run("system", func(t *testing.T) { lavacliSystem(t, cli.with(t)) })
	t.Run("identities", func(t *testing.T) { lavacliIdentities(t, cli.with(t), l) })
	t.Run("workers", func(t *testing.T) { lavacliWorkers(t, cli.with(t)) })
	t.Run("device-types", func(t *testing.T) { lavacliDeviceTypes(t, cli.with(t)) })
	t.Run("devices", func(t *testing.T) { lavacliDevices(t, cli.with(t)) })
	t.Run("tags", func(t *testing.T) { lavacliTags(t, cli.with(t)) })
	t.Run("aliases", func(t *testing.T) { lavacliAliases(t, cli.with(t)) })
	t.Run("jobs", func(t *testing.T) { lavacliJobs(t, cli.with(t)) })
	t.Run("realm", func(t *testing.T) { lavacliRealm(t, cli.with(t), l) })
	t.Run("bad-input", func(t *testing.T) { rpcBadInput(t, l, cli.with(t)) })
}

// rpcBadInput sends hostile documents to the real server's /RPC2: each gets
// a fault or a 4xx, the process's memory stays bounded and it keeps serving.
func rpcBadInput(t *testing.T, l *lab, cli *lavacli) {
	post := func(body io.Reader) (int, string) {
		req, err := http.NewRequest(http.MethodPost, l.base+"/RPC2", body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST /RPC2: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b)
	}
	rssBefore := rssKB(t, l.proc.cmd.Process.Pid)
	deep := strings.Repeat("<value><array><data>", 10000) + strings.Repeat("</data></array></value>", 10000)
	for name, doc := range map[string]string{
		"entity expansion": `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">` +
			`<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>` +
			`<methodCall><methodName>&d;</methodName></methodCall>`,
		"external entity": `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` +
			`<methodCall><methodName>system.version</methodName><params><param><value>&e;</value></param></params></methodCall>`,
		"10000-deep nesting": `<methodCall><methodName>system.version</methodName><params><param>` + deep + `</param></params></methodCall>`,
		"invalid utf-8":      "<methodCall><methodName>system.ÿþ</methodName></methodCall>",
		"wrong signature":    `<methodCall><methodName>scheduler.jobs.show</methodName><params></params></methodCall>`,
	} {
		code, body := post(strings.NewReader(doc))
		if code != 200 || !strings.Contains(body, "<fault>") || strings.Contains(body, "root:") {
			t.Errorf("%s: want a fault, got %d %.300s", name, code, body)
		}
	}
	big := io.MultiReader(strings.NewReader("<methodCall><methodName>system.version</methodName><params><param><value><string>"),
		io.LimitReader(zeros{}, 100<<20))
	if code, _ := post(big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("100 MB body: want 413, got %d", code)
	}
	if grew := rssKB(t, l.proc.cmd.Process.Pid) - rssBefore; grew > 100<<10 {
		t.Errorf("lava-lab grew by %d MB on bad input", grew>>10)
	}
	contains(t, "system version after bad input", cli.ok("system", "version"), "2023.01")
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// rssKB reads the resident set of pid from /proc.
func rssKB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int
			fmt.Sscanf(strings.TrimPrefix(line, "VmRSS:"), "%d", &kb)
			return kb
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func lavacliSystem(t *testing.T, cli *lavacli) {
	contains(t, "system version", cli.ok("system", "version"), "2023.01")
	contains(t, "system whoami", cli.ok("system", "whoami"), "admin")
	contains(t, "system api", cli.ok("system", "api"), "2")
	methods := cli.ok("system", "methods", "list")
	contains(t, "system methods list", methods, "scheduler.jobs.submit", "system.listMethods", "results.get_testjob_results_yaml")
	contains(t, "system methods help", cli.ok("system", "methods", "help", "scheduler.jobs.list"), "limit")
	contains(t, "system methods signature", cli.ok("system", "methods", "signature", "system.methodHelp"), "string")
	// Anonymous callers are nobody.
	anon := strings.Replace(cli.uri, "admin:"+userToken(cli.uri)+"@", "", 1)
	out, code := cli.run("--uri", anon, "system", "whoami")
	if code != 0 || !strings.Contains(out, "AnonymousUser") {
		t.Fatalf("anonymous whoami: %d %s", code, out)
	}
	out, code = cli.run("--uri", strings.Replace(cli.uri, userToken(cli.uri), "wrong", 1), "system", "version")
	if code == 0 || !strings.Contains(out, "401") {
		t.Fatalf("wrong token: %d %s", code, out)
	}
}

func userToken(uri string) string {
	u, _ := url.Parse(uri)
	p, _ := u.User.Password()
	return p
}

func lavacliIdentities(t *testing.T, cli *lavacli, l *lab) {
	out, code := cli.run("identities", "add", "--uri", l.base+"/RPC2", "--username", "admin", "--token", l.token, "lab")
	if code != 0 {
		t.Fatalf("identities add: %d %s", code, out)
	}
	out, _ = cli.run("identities", "list")
	contains(t, "identities list", out, "lab")
	out, _ = cli.run("identities", "show", "lab")
	contains(t, "identities show", out, "admin", l.base)
	out, code = cli.run("-i", "lab", "system", "whoami")
	if code != 0 || !strings.Contains(out, "admin") {
		t.Fatalf("whoami through the identity: %d %s", code, out)
	}
	if out, code = cli.run("identities", "delete", "lab"); code != 0 {
		t.Fatalf("identities delete: %d %s", code, out)
	}
}

func lavacliWorkers(t *testing.T, cli *lavacli) {
	contains(t, "workers list", cli.ok("workers", "list"), "* lab")
	contains(t, "workers show", cli.ok("workers", "show", "lab"), "hostname    : lab", "dut-sim-01")
	cli.ok("workers", "add", "w-extra", "--description", "spare host")
	contains(t, "workers list", cli.ok("workers", "list", "--yaml"), "w-extra")
	cli.ok("workers", "update", "w-extra", "--description", "renamed", "--health", "MAINTENANCE", "--job-limit", "3")
	show := cli.ok("workers", "show", "w-extra", "--yaml")
	contains(t, "workers show w-extra", show, "renamed", "Maintenance", "job_limit: 3")
	cfg := writeTemp(t, "dispatcher.yaml", "dispatcher_ip: 10.0.0.1\n")
	cli.ok("workers", "config", "set", "w-extra", cfg)
	contains(t, "workers config get", cli.ok("workers", "config", "get", "w-extra"), "dispatcher_ip: 10.0.0.1")
	env := writeTemp(t, "env.yaml", "overrides:\n  LANG: C\n")
	cli.ok("workers", "env", "set", "w-extra", env)
	contains(t, "workers env get", cli.ok("workers", "env", "get", "w-extra"), "LANG: C")
	cli.fails("Worker 'nope' was not found.", "workers", "show", "nope")
}

func lavacliDeviceTypes(t *testing.T, cli *lavacli) {
	contains(t, "device-types list", cli.ok("device-types", "list"), "* dut-sim (1)")
	show := cli.ok("device-types", "show", "dut-sim")
	contains(t, "device-types show", show, "dut-sim-01")
	cli.ok("device-types", "add", "board-x", "--description", "a board", "--health-frequency", "12", "--health-denominator", "jobs")
	contains(t, "device-types show board-x", cli.ok("device-types", "show", "board-x", "--yaml"),
		"description: a board", "health_frequency: 12", "health_denominator: Jobs")
	cli.ok("device-types", "update", "board-x", "--description", "the x board", "--health-disabled")
	contains(t, "device-types update", cli.ok("device-types", "show", "board-x", "--yaml"), "the x board", "health_disabled: true")
	cli.ok("device-types", "aliases", "add", "board-x", "bx")
	contains(t, "aliases list", cli.ok("device-types", "aliases", "list", "board-x"), "bx")
	cli.ok("device-types", "aliases", "delete", "board-x", "bx")
	if out := cli.ok("device-types", "aliases", "list", "board-x"); strings.Contains(out, "bx") {
		t.Fatalf("alias still listed:\n%s", out)
	}
	contains(t, "template get", cli.ok("device-types", "template", "get", "dut-sim"), "{%")
	tmpl := writeTemp(t, "board-x.jinja2", "{% extends 'base.jinja2' %}\n{# board x #}\n")
	cli.ok("device-types", "template", "set", "board-x", tmpl)
	contains(t, "template get board-x", cli.ok("device-types", "template", "get", "board-x"), "board x")
	hc := writeTemp(t, "hc.yaml", "job_name: health check of board-x\n")
	cli.ok("device-types", "health-check", "set", "board-x", hc)
	contains(t, "health-check get", cli.ok("device-types", "health-check", "get", "board-x"), "health check of board-x")
	cli.fails("Device-type 'nope' was not found.", "device-types", "show", "nope")
}

func lavacliDevices(t *testing.T, cli *lavacli) {
	list := cli.ok("devices", "list")
	contains(t, "devices list", list, "dut-sim-01 (dut-sim)")
	contains(t, "devices show", cli.ok("devices", "show", "dut-sim-01"), "worker      : lab")
	cli.ok("devices", "add", "bx-01", "--type", "board-x", "--worker", "w-extra", "--description", "first x")
	contains(t, "devices show bx-01", cli.ok("devices", "show", "bx-01", "--yaml"), "device_type: board-x", "first x", "worker: w-extra")
	cli.ok("devices", "update", "bx-01", "--health", "MAINTENANCE", "--description", "x one")
	contains(t, "devices update", cli.ok("devices", "show", "bx-01", "--yaml"), "health: Maintenance", "x one")
	dict := writeTemp(t, "bx-01.jinja2", "{% extends 'board-x.jinja2' %}\n{% set x_port = 7 %}\n")
	cli.ok("devices", "dict", "set", "bx-01", dict)
	contains(t, "devices dict get", cli.ok("devices", "dict", "get", "bx-01"), "x_port = 7")
	contains(t, "devices dict get --render", cli.ok("devices", "dict", "get", "--render", "dut-sim-01"), "actions:")
	cli.ok("devices", "tags", "add", "bx-01", "fast")
	contains(t, "devices tags list", cli.ok("devices", "tags", "list", "bx-01"), "fast")
	cli.ok("devices", "tags", "delete", "bx-01", "fast")
	if out := cli.ok("devices", "tags", "list", "bx-01"); strings.Contains(out, "fast") {
		t.Fatalf("tag still listed:\n%s", out)
	}
	cli.ok("devices", "update", "bx-01", "--health", "RETIRED")
	if out := cli.ok("devices", "list"); strings.Contains(out, "bx-01") {
		t.Fatalf("retired device listed without --all:\n%s", out)
	}
	contains(t, "devices list --all", cli.ok("devices", "list", "--all"), "bx-01")
	cli.fails("Device 'nope' was not found.", "devices", "show", "nope")
}

func lavacliTags(t *testing.T, cli *lavacli) {
	cli.ok("tags", "add", "usb", "--description", "has usb")
	contains(t, "tags list", cli.ok("tags", "list"), "usb")
	cli.ok("devices", "tags", "add", "dut-sim-01", "usb")
	contains(t, "tags show", cli.ok("tags", "show", "usb"), "has usb", "dut-sim-01")
	cli.ok("tags", "delete", "usb")
	if out := cli.ok("tags", "list"); strings.Contains(out, "usb") {
		t.Fatalf("deleted tag listed:\n%s", out)
	}
	cli.fails("Tag 'usb' was not found.", "tags", "show", "usb")
}

func lavacliAliases(t *testing.T, cli *lavacli) {
	cli.ok("aliases", "add", "sim", "dut-sim")
	contains(t, "aliases list", cli.ok("aliases", "list"), "sim")
	contains(t, "aliases show", cli.ok("aliases", "show", "sim"), "dut-sim")
	cli.ok("aliases", "delete", "sim")
	cli.fails("Alias 'sim' was not found.", "aliases", "show", "sim")
}

var jobIDRE = regexp.MustCompile(`(?m)^(\d+)$`)

func lavacliJobs(t *testing.T, cli *lavacli) {
	def := writeTemp(t, "smoke.yaml", smokeJob(t))
	contains(t, "jobs validate", cli.ok("jobs", "validate", def), "")
	bad := writeTemp(t, "bad.yaml", "device_type: dut-sim\njob_name: x\n")
	// lavacli reports a refused submission and still exits 0.
	contains(t, "jobs submit bad", cli.ok("jobs", "submit", bad), "Unable to submit", "Problem with submitted job data")

	m := jobIDRE.FindStringSubmatch(cli.ok("jobs", "submit", def))
	if m == nil {
		t.Fatal("jobs submit printed no job id")
	}
	id := m[1]
	cli.ok("jobs", "wait", id, "--polling", "1", "--timeout", "120")
	show := cli.ok("jobs", "show", id)
	contains(t, "jobs show", show, "id          : "+id, "state       : Finished", "Health      : Complete",
		"device      : dut-sim-01", "submitter   : admin", "visibility  : Public")
	logs := cli.ok("jobs", "logs", id, "--no-follow")
	contains(t, "jobs logs", logs, "dut-sim login:", "pass-case")
	raw := cli.ok("jobs", "logs", id, "--raw", "--no-follow", "--start", "1", "--end", "3")
	if n := strings.Count(raw, "\n- {"); strings.Count("\n"+raw, "\n- ") != 2 {
		t.Fatalf("jobs logs --start 1 --end 3: want 2 lines, got %d:\n%s", n, raw)
	}
	contains(t, "jobs definition", cli.ok("jobs", "definition", id), "job_name: smoke test on dut-sim")
	contains(t, "jobs list", cli.ok("jobs", "list"), "* "+id+": Finished,Complete [admin] (smoke test on dut-sim) - dut-sim")
	contains(t, "jobs list --state", cli.ok("jobs", "list", "--state", "FINISHED", "--yaml"), "id: "+id)
	res := cli.ok("results", id)
	contains(t, "results", res, "* 0_smoke.pass-case [pass]", "* 0_smoke.fail-case [fail]", "lava.job [pass]")
	contains(t, "results suite", cli.ok("results", id, "0_smoke"), "pass-case [pass]")
	contains(t, "results case", cli.ok("results", id, "0_smoke", "fail-case"), "fail")
	cli.fails("Specified job not found.", "results", "999999")

	dest := t.TempDir()
	cli.ok("jobs", "config", id, "--dest", dest)
	if b, err := os.ReadFile(filepath.Join(dest, "definition.yaml")); err != nil || !strings.Contains(string(b), "smoke") {
		entries, _ := os.ReadDir(dest)
		t.Fatalf("jobs config wrote %v: %v", entries, err)
	}

	// Resubmit: a new job with the same definition runs to the end.
	m = jobIDRE.FindStringSubmatch(cli.ok("jobs", "resubmit", id))
	if m == nil || m[1] == id {
		t.Fatal("jobs resubmit printed no new job id")
	}
	cli.ok("jobs", "wait", m[1], "--polling", "1", "--timeout", "120")
	contains(t, "jobs show resubmitted", cli.ok("jobs", "show", m[1]), "Health      : Complete")

	// jobs run: submit and follow the logs of the running job to its end.
	run := cli.ok("jobs", "run", def, "--polling", "1")
	contains(t, "jobs run", run, "[lavacli] Job ", " submitted", "dut-sim login:", "pass-case")

	// A long job is queued or running when canceled.
	long := writeTemp(t, "long.yaml", jobWithSteps("long", 5*time.Minute, "sleep 300"))
	m = jobIDRE.FindStringSubmatch(cli.ok("jobs", "submit", long))
	if m == nil {
		t.Fatal("jobs submit printed no job id")
	}
	contains(t, "jobs queue", cli.ok("jobs", "queue", "--yaml"), "")
	cli.ok("jobs", "cancel", m[1])
	cli.ok("jobs", "wait", m[1], "--polling", "1", "--timeout", "120")
	contains(t, "jobs show canceled", cli.ok("jobs", "show", m[1]), "Health      : Canceled")
	cli.fails("Job '999999' was not found.", "jobs", "show", "999999")
}
