package lab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"

	"golava/server/store/storetest"
)

// TestSecretsNeverInClear is issue 10's acceptance for secrets: a job uses
// two realm secrets (one set with `lava-server secrets set --realm R NAME`
// from stdin, one over REST), prints them, names a test case, a unit and a
// reference URL after them, and completes; then neither value is anywhere
// in the database (every text, JSON and bytea column of every table), the
// job log, the results over REST and XML-RPC, the events seen on /ws/
// during the job, or the lab's folders (worker job dirs, spool), while the
// log shows [secret] where the values were printed.
func TestSecretsNeverInClear(t *testing.T) {
	t.Parallel()
	dbURL := storetest.URL(t)
	l := startLab(t, 1, dbURL)
	cliValue, restValue := randomSecret(t), randomSecret(t)

	cmd := exec.Command(filepath.Join(binDir, "lava-server"), "secrets", "set", "--realm", "default", "CLI_SECRET",
		"--database-url", dbURL, "--master-key-file", filepath.Join(l.dir, "master.key"))
	cmd.Stdin = strings.NewReader(cliValue + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lava-server secrets set: %v\n%s", err, out)
	}
	code, body := l.do("POST", "/api/v0.2/realms/default/secrets/", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"name": {"REST_SECRET"}, "value": {restValue}}.Encode()))
	if code != http.StatusCreated || bytes.Contains(body, []byte(restValue)) {
		t.Fatalf("POST secret: %d %s", code, body)
	}

	events := watchEvents(t, l)
	job := jobWithSteps("secrets e2e", 3*time.Minute,
		`echo "cli secret is $CLI_SECRET and rest secret is $REST_SECRET"`,
		`lava-test-case "tc-$CLI_SECRET" --result pass`,
		`lava-test-case speed --result pass --measurement 3 --units "u$REST_SECRET"`,
		`lava-test-reference ref --result pass --reference "https://example.com/$CLI_SECRET"`,
	)
	job = strings.Replace(job, "actions:\n",
		"secrets:\n  CLI_SECRET: /lava/default/CLI_SECRET\n  REST_SECRET: /lava/default/REST_SECRET\nactions:\n", 1)
	id := l.submit(job)
	if j := l.waitFinished(id, 3*time.Minute); j.Health != "Complete" {
		t.Fatalf("job %d: health %s (%s)\n%s", id, j.Health, deref(j.FailureComment), tail(l.logs(id), 40))
	}
	values := []string{cliValue, restValue}

	log := l.logs(id)
	if !strings.Contains(log, "cli secret is [secret] and rest secret is [secret]") {
		t.Errorf("the log does not show the printed values masked:\n%s", tail(log, 60))
	}
	if cases := l.testCases(id); cases["tc-[secret]"] != "pass" || cases["speed"] != "pass" {
		t.Errorf("test cases %v: want tc-[secret] and speed", cases)
	}
	texts := map[string]string{"log": log, "events on /ws/": events()}
	for _, p := range []string{"/", "/definition/", "/tests/?limit=1000", "/suites/", "/yaml/", "/csv/", "/junit/", "/logs/?start=0"} {
		code, b := l.do("GET", fmt.Sprintf("/api/v0.2/jobs/%d%s", id, p), "", nil)
		if code == http.StatusOK {
			texts["REST "+p] = string(b)
		}
	}
	if !strings.Contains(texts["REST /definition/"], "/lava/default/CLI_SECRET") {
		t.Errorf("the stored definition lost its secret path: %s", texts["REST /definition/"])
	}
	for _, m := range []string{"results.get_testjob_results_yaml", "results.get_testjob_results_csv", "scheduler.jobs.definition", "scheduler.jobs.show", "results.get_testjob_metadata"} {
		texts["XML-RPC "+m] = rpcCall(t, l, m, fmt.Sprint(id))
	}
	for where, text := range texts {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("%s shows a secret value", where)
			}
		}
	}
	if !strings.Contains(texts["XML-RPC results.get_testjob_results_yaml"], "tc-[secret]") {
		t.Errorf("XML-RPC results lack tc-[secret]:\n%s", texts["XML-RPC results.get_testjob_results_yaml"])
	}
	scanDatabase(t, dbURL, values)
	scanFiles(t, l.dir, values)
}

func randomSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "s3c-" + hex.EncodeToString(b)
}

// watchEvents records every /ws/ message the admin may see until the
// returned function is called, which returns them all.
func watchEvents(t *testing.T, l *lab) func() string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws, _, err := websocket.Dial(ctx, strings.Replace(l.base, "http", "ws", 1)+"/ws/",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Token " + l.token}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ws.SetReadLimit(4 << 20)
	var mu sync.Mutex
	var all strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := ws.Read(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			all.Write(msg)
			all.WriteByte('\n')
			mu.Unlock()
		}
	}()
	stop := func() string {
		cancel()
		ws.CloseNow()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return all.String()
	}
	t.Cleanup(func() { stop() })
	return func() string {
		s := stop()
		if !strings.Contains(s, "testjob") {
			t.Errorf("no job event seen on /ws/: %.500s", s)
		}
		return s
	}
}

// rpcCall calls an XML-RPC method with string arguments as the admin and
// returns the raw reply.
func rpcCall(t *testing.T, l *lab, method string, args ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><methodCall><methodName>` + method + `</methodName><params>`)
	for _, a := range args {
		b.WriteString(`<param><value><string>` + a + `</string></value></param>`)
	}
	b.WriteString(`</params></methodCall>`)
	req, err := http.NewRequest("POST", l.base+"/RPC2", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", l.token)
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	code := resp.StatusCode
	if code != http.StatusOK || bytes.Contains(body, []byte("faultCode")) {
		t.Errorf("XML-RPC %s: %d %s", method, code, body)
	}
	return string(body)
}

// scanDatabase looks for the values in every text, JSON, array and bytea
// column of every table of the lab's database (log chunks are bytea).
func scanDatabase(t *testing.T, dbURL string, values []string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		return c, r.Scan(&c.table, &c.name, &c.typ)
	})
	if err != nil || len(cols) < 20 {
		t.Fatalf("%d columns to scan: %v", len(cols), err)
	}
	for _, c := range cols {
		for _, v := range values {
			var n int
			var arg any = v
			q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE position($1 in %q::text) > 0`, c.table, c.name)
			if c.typ == "bytea" { // raw bytes, also the literals of lz4 log chunks
				q, arg = fmt.Sprintf(`SELECT count(*) FROM %q WHERE position($1::bytea in %q) > 0`, c.table, c.name), []byte(v)
			}
			if err := conn.QueryRow(ctx, q, arg).Scan(&n); err != nil {
				t.Fatalf("%s.%s: %v", c.table, c.name, err)
			}
			if n > 0 {
				t.Errorf("%d rows of %s.%s hold a secret value in clear", n, c.table, c.name)
			}
		}
	}
	// Controls: the same searches find what must be there, in a text
	// column and inside the compressed log.
	var defs, chunks int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM jobs WHERE position('/lava/default/CLI_SECRET' in definition::text) > 0),
    (SELECT count(*) FROM log_chunks WHERE position('lava-dispatcher, installed at version'::bytea in data) > 0)`).Scan(&defs, &chunks)
	if err != nil || defs != 1 || chunks == 0 {
		t.Errorf("controls: %d definitions with the path, %d log chunks with the first line: %v", defs, chunks, err)
	}
}

// scanFiles looks for the values in every file under the lab's data
// folder once the job is over, except the simulated board's own disk (the
// DUT holds its job's secrets, as a real board does until powered off).
func scanFiles(t *testing.T, dir string, values []string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a board or worker file going away meanwhile
		}
		if e.IsDir() && e.Name() == "fs" && filepath.Base(filepath.Dir(filepath.Dir(p))) == "boards" {
			return filepath.SkipDir
		}
		if !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		n++
		for _, v := range values {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret value in clear", p)
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Errorf("scanned %d files under %s: %v", n, dir, err)
	}
}

// TestSecretDeletedBeforeRun: a secret deleted between submission and
// scheduling cannot be delivered; the job ends Incomplete with a Job error
// that names the key and the path, the real worker does not retry it
// forever, and the board takes the next job.
func TestSecretDeletedBeforeRun(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	value := randomSecret(t)
	form := func(v url.Values) *strings.Reader { return strings.NewReader(v.Encode()) }
	const ct = "application/x-www-form-urlencoded"
	if code, b := l.do("POST", "/api/v0.2/realms/default/secrets/", ct, form(url.Values{"name": {"GONE"}, "value": {value}})); code != http.StatusCreated {
		t.Fatalf("POST secret: %d %s", code, b)
	}
	setHealth := func(h string) {
		t.Helper()
		if code, b := l.do("PATCH", "/api/v0.2/devices/dut-sim-01/", ct, form(url.Values{"health": {h}})); code != http.StatusOK {
			t.Fatalf("device health %s: %d %s", h, code, b)
		}
	}
	setHealth("Maintenance")
	job := strings.Replace(jobWithSteps("secret gone", time.Minute, `echo "$GONE"`), "actions:\n",
		"secrets:\n  GONE: /lava/default/GONE\nactions:\n", 1)
	id := l.submit(job)
	if code, b := l.do("DELETE", "/api/v0.2/realms/default/secrets/GONE/", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE secret: %d %s", code, b)
	}
	setHealth("Good")
	j := l.waitFinished(id, 2*time.Minute)
	comment := deref(j.FailureComment)
	if j.Health != "Incomplete" || !strings.Contains(comment, "secrets.GONE") || !strings.Contains(comment, "/lava/default/GONE") {
		t.Fatalf("job %d: health %s, failure comment %q", id, j.Health, comment)
	}
	if strings.Contains(comment, value) || strings.Contains(l.logs(id), value) {
		t.Fatal("the failure shows the value")
	}
	next := l.submit(jobWithSteps("after", time.Minute, "true"))
	if j := l.waitFinished(next, 2*time.Minute); j.Health != "Complete" {
		t.Fatalf("next job %d: health %s\n%s", next, j.Health, tail(l.logs(next), 30))
	}
}
