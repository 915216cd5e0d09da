package lab_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"golava/server/store/storetest"
)

// The web UI in Debian's headless Chromium, driven over the DevTools
// protocol against a whole lava-lab: log in, submit, follow the live log to
// its end, see the results, put a board into maintenance, create and revoke
// a token; axe-core checks every page for serious accessibility violations.

const webPassword = "web-ui-test-password"

// axeSource installs axe-core from the npm registry into the git-ignored
// .cache/npm of the repository (once) and returns axe.min.js.
func axeSource(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, ".cache", "npm")
	file := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	if _, err := os.Stat(file); err != nil {
		cmd := exec.Command("npm", "install", "--prefix", dir, "axe-core@4.14.1", "--no-audit", "--no-fund", "--loglevel=error")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm install axe-core: %v\n%s", err, out)
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newBrowser starts headless Chromium with a throw-away profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (Debian package chromium; make deps-test): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	// The first action starts the browser, which lives as long as ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(cancelT)
	return ctx
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axeViolations runs axe-core on the current page and returns its serious
// and critical violations.
func axeViolations(t *testing.T, ctx context.Context, axe, page string) []axeViolation {
	t.Helper()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== "undefined"`))
	if err != nil {
		t.Fatalf("%s: %v", page, err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axe+"\n;true")); err != nil {
			t.Fatalf("%s: inject axe: %v", page, err)
		}
	}
	script := `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => ({ID: v.id, Impact: v.impact, Help: v.help, Nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("%s: axe result %q: %v", page, out, err)
	}
	return vs
}

// checkAxe fails the test on serious or critical violations of the page.
func checkAxe(t *testing.T, ctx context.Context, axe, page string) {
	t.Helper()
	vs := axeViolations(t, ctx, axe, page)
	for _, v := range vs {
		t.Errorf("%s: accessibility %s (%s): %s at %v", page, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// session is a browser tab on a lab.
type session struct {
	t    *testing.T
	ctx  context.Context
	axe  string
	base string
}

// visit opens a page and checks it with axe.
func (s *session) visit(path string) {
	s.t.Helper()
	run(s.t, s.ctx, "open "+path, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
	checkAxe(s.t, s.ctx, s.axe, path)
}

func TestWebUIInBrowser(t *testing.T) {
	t.Parallel()
	axe := axeSource(t)
	dir := shortTempDir(t)
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "2",
		"--coordinator-listen", "127.0.0.1:0", "--database-url", storetest.URL(t), "--admin-password", webPassword)
	s := &session{t: t, axe: axe, base: p.waitOutput(readyRE, 90*time.Second)[1]}
	s.ctx = newBrowser(t)
	s.login()
	jobID := s.submitAndFollow()
	s.results(jobID)
	s.maintenance()
	s.tokens()
	s.axeFindsViolations()
	s.phone(jobID)
	// Every other page passes axe too.
	for _, path := range []string{"/scheduler/alljobs", "/scheduler/alljobs?state=Finished&health=Complete",
		"/scheduler/alldevices", "/scheduler/device_types", "/scheduler/device_type/dut-sim", "/scheduler/allworkers",
		"/scheduler/worker/lab", "/scheduler/device/dut-sim-01/dictionary", "/results/",
		fmt.Sprintf("/scheduler/job/%d/resubmit", jobID), fmt.Sprintf("/scheduler/job/%d?line=5#L5", jobID),
		"/admin/users/", "/admin/groups/", "/admin/permissions/", "/scheduler/job/999999", "/realm/artifacts/"} {
		s.visit(path)
	}
}

// login logs in as admin (the login page itself is checked anonymous).
func (s *session) login() {
	s.visit("/accounts/login/?next=/")
	run(s.t, s.ctx, "log in",
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), webPassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/accounts/profile/"]`)))
	s.visit("/")
}

// submitAndFollow submits a bad job (errors on their lines), then a job
// that runs a few seconds, so its page opens while it runs, and follows
// the live log to its end.
func (s *session) submitAndFollow() int64 {
	t, ctx := s.t, s.ctx
	s.visit("/scheduler/jobsubmit")
	run(t, ctx, "submit a bad job",
		chromedp.SetValue(chromedp.ID("definition"), "device_type: dut-sim\njob_name: x\nactions: 3\n"),
		chromedp.Submit(chromedp.ID("definition")),
		chromedp.WaitVisible(chromedp.CSS("li.has-error")))
	checkAxe(t, ctx, s.axe, "submit with errors")
	def := jobWithSteps("web ui job", 2*time.Minute, "lava-test-case pass-case --shell true", "sleep 3",
		"lava-test-case speed --result pass --measurement 42.5 --units MB/s", "lava-test-case fail-case --shell false")
	run(t, ctx, "submit a job",
		chromedp.SetValue(chromedp.ID("definition"), def),
		chromedp.Submit(chromedp.ID("definition")),
		chromedp.WaitVisible(chromedp.ID("log")))
	jobURL := get(t, ctx, "location", chromedp.Location())
	m := regexp.MustCompile(`/scheduler/job/(\d+)$`).FindStringSubmatch(jobURL)
	if m == nil {
		t.Fatalf("after submit the browser is at %s", jobURL)
	}
	jobID, _ := strconv.ParseInt(m[1], 10, 64)
	live := get(t, ctx, "read the log viewer", chromedp.AttributeValue(chromedp.ID("log"), "data-live"))
	if live.Value != "1" {
		t.Fatalf("the job page opened on a finished job: the log was not followed live")
	}
	checkAxe(t, ctx, s.axe, "job page (running)")
	run(t, ctx, "follow the live log to its end", chromedp.WaitVisible(chromedp.CSS(`#log-end[data-done="1"]`)))
	status := get(t, ctx, "log status", chromedp.Text(chromedp.ID("log-end")))
	logText := get(t, ctx, "log text", chromedp.Text(chromedp.ID("log")))
	if ws := get(t, ctx, "events socket", chromedp.AttributeValue(chromedp.ID("log"), "data-ws")); ws.Value != "open" {
		t.Errorf("the live viewer did not open the events WebSocket")
	}
	if !strings.Contains(status, "finished") || !strings.Contains(logText, "speed") || !strings.Contains(logText, "end: ") {
		t.Fatalf("live log ended with status %q and log:\n%s", status, logText)
	}
	// Levels filter: unticking "info" hides the info lines.
	display := `getComputedStyle(document.querySelector("#log .lvl-info")).display`
	if d := get(t, ctx, "info line", chromedp.Evaluate[string](display)); d == "none" {
		t.Fatalf("info lines hidden before filtering")
	}
	run(t, ctx, "hide info lines", chromedp.Click(chromedp.CSS(`input.lvl-toggle[value="info"]`)))
	if d := get(t, ctx, "info line", chromedp.Evaluate[string](display)); d != "none" {
		t.Fatalf("info lines still shown (display %q) after unticking info", d)
	}
	s.visit(fmt.Sprintf("/scheduler/job/%d", jobID))
	return jobID
}

// results checks the cases and the measurement's chart.
func (s *session) results(jobID int64) {
	s.visit(fmt.Sprintf("/results/%d", jobID))
	cases := get(s.t, s.ctx, "read results", chromedp.Text(chromedp.ID("cases")))
	for _, want := range []string{"pass-case", "fail-case", "speed", "42.5 MB/s"} {
		if !strings.Contains(cases, want) {
			s.t.Fatalf("results lack %q:\n%s", want, cases)
		}
	}
	s.visit("/results/chart?suite=0_steps&case=speed")
	if chart := get(s.t, s.ctx, "chart", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(chart, "42.5") {
		s.t.Fatalf("the chart of speed lacks its measurement:\n%s", chart)
	}
}

// maintenance puts a board into maintenance, through the confirmation step.
func (s *session) maintenance() {
	t, ctx := s.t, s.ctx
	s.visit("/scheduler/device/dut-sim-02")
	run(t, ctx, "ask for maintenance", chromedp.Click(chromedp.ID("action-maintenance")), chromedp.WaitVisible(chromedp.ID("confirm")))
	checkAxe(t, ctx, s.axe, "confirmation")
	run(t, ctx, "confirm maintenance", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("device-health")))
	if health := get(t, ctx, "device health", chromedp.Text(chromedp.ID("device-health"))); health != "Maintenance" {
		t.Fatalf("device health after maintenance: %q", health)
	}
}

// tokens creates an API token, uses it, revokes it.
func (s *session) tokens() {
	t, ctx := s.t, s.ctx
	s.visit("/accounts/profile/")
	run(t, ctx, "create a token",
		chromedp.SendKeys(chromedp.ID("tok-desc"), "browser token"),
		chromedp.Click(chromedp.ID("create-token")),
		chromedp.WaitVisible(chromedp.ID("new-token")))
	secret := get(t, ctx, "new token", chromedp.Text(chromedp.ID("new-token")))
	checkAxe(t, ctx, s.axe, "profile with a new token")
	c := &client{t: t, base: s.base, token: strings.TrimSpace(secret)}
	if code, _ := c.do("GET", "/api/v0.2/jobs/", "", nil); code != 200 {
		t.Fatalf("new token refused: %d", code)
	}
	run(t, ctx, "revoke the token", chromedp.Click(chromedp.CSS(`#tokens button[aria-label="Revoke token browser token"]`)))
	// The profile page comes back without the token.
	waitFor(t, 20*time.Second, "the token to leave the profile page", func() bool {
		tokens, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		return err == nil && !strings.Contains(tokens, "browser token") && strings.Contains(tokens, "API tokens")
	})
	if code, _ := c.do("GET", "/api/v0.2/jobs/", "", nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
}

// axeFindsViolations shows the check itself finds a known violation.
func (s *session) axeFindsViolations() {
	run(s.t, s.ctx, "open a bad page", chromedp.Navigate(`data:text/html,<html><body><img src="x.png"></body></html>`))
	if vs := axeViolations(s.t, s.ctx, s.axe, "bad page"); len(vs) == 0 {
		s.t.Fatal("axe finds nothing wrong with an image without alt text")
	}
}

// phone checks the pages do not scroll sideways on a phone screen (wide
// tables scroll inside their own region).
func (s *session) phone(jobID int64) {
	t, ctx := s.t, s.ctx
	run(t, ctx, "phone screen", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile))
	defer run(t, ctx, "desktop screen", chromedp.ResetViewport())
	for _, path := range []string{"/", "/scheduler/alljobs", fmt.Sprintf("/scheduler/job/%d", jobID), fmt.Sprintf("/results/%d", jobID),
		"/scheduler/alldevices", "/scheduler/device/dut-sim-01", "/scheduler/device_types", "/scheduler/allworkers", "/accounts/profile/", "/admin/users/"} {
		run(t, ctx, "open "+path, chromedp.Navigate(s.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := get(t, ctx, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); w > 1 {
			t.Errorf("%s on a phone: the page is %d px wider than the screen", path, w)
		}
	}
}
