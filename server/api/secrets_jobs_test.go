package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"golava/pkg/logfmt"
	"golava/pkg/mask"
	"golava/pkg/workerapi"
	"golava/server/secrets"
)

// The value every test here hides: quoted and with a backslash, so that
// the log encoder escapes it (masking must look at decoded records).
const secretValue = `tok"9f2c\81d7e4`

// secretsAPI is setupJobsAPI whose server has a Box, with /lava/default/TOKEN set.
func secretsAPI(t *testing.T) (*jobsAPI, *secrets.Box) {
	t.Helper()
	a := setupJobsAPI(t)
	key, err := secrets.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(a.st, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := box.Put(context.Background(), "/lava/default/TOKEN", []byte(secretValue)); err != nil {
		t.Fatal(err)
	}
	a.srv.Close()
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, nil))
	a.srv = httptest.NewServer(New(a.st, logger, Config{MaxBodyBytes: 1 << 20, Secrets: box}).Handler())
	t.Cleanup(a.srv.Close)
	return a, box
}

func secretJob(block string) string {
	return strings.Replace(apiJob, "actions:\n", "secrets:\n"+block+"actions:\n", 1)
}

// scheduledDef is scheduled for a given definition.
func (a *jobsAPI) scheduledDef(t *testing.T, def string) (int64, string, []string) {
	t.Helper()
	id := a.submit(t, def)
	ctx := context.Background()
	var token string
	err := a.st.Pool().QueryRow(ctx, `UPDATE jobs SET state = 'Scheduled', actual_device_id = $2
WHERE id = $1 RETURNING token`, id, a.deviceID).Scan(&token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.st.Pool().Exec(ctx, `UPDATE devices SET state = 'Reserved' WHERE id = $1`, a.deviceID); err != nil {
		t.Fatal(err)
	}
	return id, "/scheduler/internal/v1/jobs/" + jid(id) + "/", []string{"LAVA-Token", token}
}

func TestSecretsAtSubmission(t *testing.T) {
	t.Parallel()
	a, _ := secretsAPI(t)
	plain := setupJobsAPI(t) // no master key
	if _, err := a.st.CreateRealm(context.Background(), "other", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, block string
		api         *jobsAPI
		want        string // "" accepted
	}{
		{"path and literal", "  T: /lava/default/TOKEN\n  L: literal\n", a, ""},
		{"literal without key", "  L: literal\n", plain, ""},
		{"missing", "  T: /lava/default/NOPE\n", a, "secrets.T: no secret /lava/default/NOPE"},
		{"other realm", "  T: /lava/other/TOKEN\n", a, `secrets.T: /lava/other/TOKEN belongs to realm \"other\", the job is submitted in realm \"default\"`},
		{"bad path", "  T: /lava/default/a/b\n", a, "secrets.T: secret path"},
		{"no master key", "  T: /lava/default/TOKEN\n", plain, "secrets.T: /lava/default/TOKEN is a realm secret path, but this server has no master key"},
	}
	for _, tt := range tests {
		code, body := tt.api.do(t, "POST", "/api/v0.2/jobs/", tt.api.aliceTok, "application/json", jsonDef(secretJob(tt.block)))
		if tt.want == "" && code != 201 || tt.want != "" && (code != 400 || !strings.Contains(body, tt.want)) {
			t.Errorf("%s: %d %s, want %q", tt.name, code, body, tt.want)
		}
	}
	// XML-RPC takes the same check.
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+a.aliceTok))
	_, body := a.do(t, "POST", "/RPC2", "", "text/xml", `<?xml version="1.0"?><methodCall><methodName>scheduler.submit_job</methodName>
<params><param><value><string>`+strings.ReplaceAll(secretJob("  T: /lava/default/NOPE\n"), "<", "&lt;")+`</string></value></param></params></methodCall>`,
		"Authorization", basic)
	if !strings.Contains(body, "secrets.T: no secret /lava/default/NOPE") || !strings.Contains(body, "faultCode") {
		t.Errorf("XML-RPC submit: %s", body)
	}
}

func TestSecretsDeliveredAndMasked(t *testing.T) {
	t.Parallel()
	a, box := secretsAPI(t)
	ctx := context.Background()
	id, path, auth := a.scheduledDef(t, secretJob("  API_TOKEN: /lava/default/TOKEN\n  LIT: plain-literal\n"))

	code, body := a.do(t, "GET", path, "", "", "", auth...)
	var cfg workerapi.JobConfig
	if code != 200 || json.Unmarshal([]byte(body), &cfg) != nil {
		t.Fatalf("config: %d %s", code, body)
	}
	var def struct{ Secrets map[string]string }
	if err := yaml.Unmarshal([]byte(cfg.Definition), &def); err != nil || def.Secrets["API_TOKEN"] != secretValue || def.Secrets["LIT"] != "plain-literal" {
		t.Errorf("definition for the worker (%v):\n%s", err, cfg.Definition)
	}
	// Everything else keeps the path only.
	for _, p := range []string{"/api/v0.2/jobs/" + jid(id) + "/", "/api/v0.2/jobs/" + jid(id) + "/definition/"} {
		_, body := a.do(t, "GET", p, a.aliceTok, "", "")
		if strings.Contains(body, "9f2c") || !strings.Contains(body, "/lava/default/TOKEN") {
			t.Errorf("%s shows the value or lost the path: %s", p, body)
		}
	}

	// A worker whose lava-run did not mask (the second line of defence).
	quoted, _ := json.Marshal(secretValue)
	q := strings.Trim(string(quoted), `"`)
	dt := `"dt": "2026-01-02T03:04:05.000000"`
	lines := "- {" + dt + `, "lvl": "target", "msg": "+ echo ` + q + `"}` +
		"\n- {" + dt + `, "lvl": "results", "msg": {"definition": "0_s", "case": "login-` + q + `", "result": "pass", "units": "u` + q + `"}}`
	post := func(srvPath string, lines string, index int) {
		t.Helper()
		code, reply := a.do(t, "POST", srvPath+"logs/", "", form, url.Values{"lines": {lines}, "index": {jid(int64(index))}}.Encode(), auth...)
		if code != 200 {
			t.Fatalf("upload: %d %s", code, reply)
		}
	}
	post(path, lines, 0)
	// Another server (a replica, or after a restart) has no cached masker.
	other := httptest.NewServer(New(a.st, slog.New(slog.DiscardHandler), Config{Secrets: box}).Handler())
	defer other.Close()
	srv := a.srv
	a.srv = other
	post(path, "- {"+dt+`, "lvl": "info", "msg": "again `+q+`"}`, 2)
	a.srv = srv

	finish := url.Values{"state": {"FINISHED"}, "result": {"fail"}, "error_type": {"Test"},
		"errors": {"lava-run: curl -H " + secretValue + " failed"}, "description": {"steps: [" + secretValue + "]"}}.Encode()
	if code, body := a.do(t, "POST", path, "", form, finish, auth...); code != 200 {
		t.Fatalf("FINISHED: %d %s", code, body)
	}
	stored, err := a.st.ReadLog(ctx, id, 0, -1)
	if err != nil || len(stored) != 3 {
		t.Fatalf("log %q, %v", stored, err)
	}
	log := strings.Join(stored, "\n")
	if !strings.Contains(log, "+ echo [secret]") || !strings.Contains(log, "again [secret]") {
		t.Errorf("stored log not masked:\n%s", log)
	}
	var texts []string
	rows, err := a.st.Pool().Query(ctx, `SELECT name || ' ' || COALESCE(units, '') FROM test_cases
UNION ALL SELECT COALESCE(failure_comment, '') || ' ' || COALESCE(pipeline_description, '') || ' ' || definition FROM jobs WHERE id = $1
UNION ALL SELECT data::text FROM events`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, s)
	}
	all := strings.Join(texts, "\n") + log
	for _, v := range []string{secretValue, q, "9f2c"} {
		if strings.Contains(all, v) {
			t.Errorf("the database shows %q:\n%s", v, all)
		}
	}
	if !strings.Contains(all, "login-[secret] u[secret]") || !strings.Contains(all, "curl -H [secret] failed") {
		t.Errorf("test case or failure comment not masked:\n%s", all)
	}

	// Once the job is over its secrets are not handed out again.
	code, body = a.do(t, "GET", path, "", "", "", auth...)
	if code != 409 || !strings.Contains(body, "only delivered while it is Scheduled or Running") {
		t.Errorf("config of a finished job: %d %s", code, body)
	}
}

func TestSecretsUndeliverable(t *testing.T) {
	t.Parallel()
	a, box := secretsAPI(t)
	ctx := context.Background()
	id, path, auth := a.scheduledDef(t, secretJob("  API_TOKEN: /lava/default/TOKEN\n"))
	if err := box.Delete(ctx, "/lava/default/TOKEN"); err != nil {
		t.Fatal(err)
	}
	code, body := a.do(t, "GET", path, "", "", "", auth...)
	if code != 400 || !strings.Contains(body, "secrets.API_TOKEN") || !strings.Contains(body, "/lava/default/TOKEN") {
		t.Fatalf("config with a deleted secret: %d %s", code, body)
	}
	_, body = a.do(t, "GET", "/api/v0.2/jobs/"+jid(id)+"/", a.aliceTok, "", "")
	for _, want := range []string{`"state":"Finished"`, `"health":"Incomplete"`, `"failure_comment":"secrets.API_TOKEN: get secret /lava/default/TOKEN`} {
		if !strings.Contains(body, want) {
			t.Errorf("job after an undeliverable secret lacks %s: %s", want, body)
		}
	}
	if got := a.deviceStateHealth(t); got != "Idle/Good" {
		t.Errorf("device %s: a missing secret is the job's fault, not the device's", got)
	}
	stored, err := a.st.ReadLog(ctx, id, 0, -1)
	if err != nil || len(stored) != 2 || !strings.Contains(stored[0], "secrets.API_TOKEN") {
		t.Errorf("job log %q, %v", stored, err)
	}
	// The worker asks again at its next ping: the job is over, so 409.
	if code, _ := a.do(t, "GET", path, "", "", "", auth...); code != 409 {
		t.Errorf("second fetch: %d", code)
	}
}

func TestMaskCacheBounded(t *testing.T) {
	t.Parallel()
	c := newMaskCache(3)
	for id := range int64(10) {
		c.put(id, nil)
	}
	c.drop(9)
	c.put(9, nil)
	if len(c.m) != 3 || len(c.order) > 6 {
		t.Fatalf("cache holds %d entries, %d ids", len(c.m), len(c.order))
	}
	if _, ok := c.get(0); ok {
		t.Error("the oldest entry was kept")
	}
	if _, ok := c.get(9); !ok {
		t.Error("the newest entry went")
	}
}

// FuzzMaskRecords: whatever a worker uploads, masking never panics, keeps
// a decodable record decodable, and leaves no value in a decoded record.
func FuzzMaskRecords(f *testing.F) {
	f.Add(`{"dt": "2026-01-02T03:04:05.000000", "lvl": "target", "msg": "+ echo s3cr3t"}`, "s3cr3t")
	f.Add(`{"dt": "2026-01-02T03:04:05.000000", "lvl": "results", "msg": {"case": "a\"b", "result": "pass"}}`, `a"b`)
	f.Add(`{"dt": "2026-01-02T03:04:05.000000", "lvl": "feedback", "msg": "x", "ns": "k\\ey"}`, `k\ey`)
	f.Add(`not a record s3cr3t`, "s3cr3t")
	f.Fuzz(func(t *testing.T, rec, secret string) {
		// A value with a bracket can straddle an inserted [secret] and
		// form again; not worth a second pass for such values.
		if secret == "" || !utf8.ValidString(secret) || strings.ContainsAny(secret, "[]") {
			return
		}
		m := mask.New([]string{secret})
		recs := []string{rec}
		maskRecords(m, recs)
		before, errBefore := logfmt.Decode(rec)
		after, errAfter := logfmt.Decode(recs[0])
		if errBefore == nil && errAfter != nil {
			t.Fatalf("masking broke a record: %q -> %q: %v", rec, recs[0], errAfter)
		}
		if errAfter == nil && errBefore == nil {
			if _, changed := m.ValueChanged(after.Msg); changed {
				t.Fatalf("a value is left in %q (from %q, msg %v)", recs[0], rec, before.Msg)
			}
		}
	})
}

// TestSecretsWrongMasterKey: a server whose master key does not open the
// realm's key (a replica given another key file) fails the job with a
// Configuration error, not the job's fault, and shows no value.
func TestSecretsWrongMasterKey(t *testing.T) {
	t.Parallel()
	a, _ := secretsAPI(t)
	id, path, auth := a.scheduledDef(t, secretJob("  API_TOKEN: /lava/default/TOKEN\n"))
	other, err := secrets.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := secrets.New(a.st, other)
	if err != nil {
		t.Fatal(err)
	}
	a.srv.Close()
	a.srv = httptest.NewServer(New(a.st, slog.New(slog.DiscardHandler), Config{Secrets: wrong}).Handler())
	t.Cleanup(a.srv.Close)
	code, body := a.do(t, "GET", path, "", "", "", auth...)
	if code != 400 || !strings.Contains(body, "master key") {
		t.Fatalf("config with the wrong master key: %d %s", code, body)
	}
	var typ, comment string
	if err := a.st.Pool().QueryRow(context.Background(), `SELECT failure_type, failure_comment FROM jobs WHERE id = $1`, id).Scan(&typ, &comment); err != nil {
		t.Fatal(err)
	}
	if typ != "Configuration" || !strings.Contains(comment, "secrets.API_TOKEN") || strings.Contains(comment, "9f2c") {
		t.Errorf("failure %s %q", typ, comment)
	}
}
