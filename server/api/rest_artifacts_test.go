package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/server/artifacts"
	"golava/server/artifacts/artifactstest"
	"golava/server/store"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type artReply struct {
	code   int
	body   string
	header http.Header
}

// raw sends body (nil: none; chunked makes the length unknown) with
// headers as name, value pairs.
func (a *adminAPI) raw(t *testing.T, method, path string, body []byte, chunked bool, header ...string) artReply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: Transfer-Encoding chunked
		}
	}
	req, err := http.NewRequest(method, a.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return artReply{resp.StatusCode, strings.TrimSpace(string(b)), resp.Header}
}

// artifactsAPI is adminAPI with artifact storage on a folder, a second
// realm "lab2" whose member bob (bobToken) is not in default, and carol, a
// second plain member of default.
type artifactsAPI struct {
	*adminAPI
	svc                  *artifacts.Service
	root                 string // the FS backend's folder
	bobToken, carolToken string
}

// setupArtifactsAPI stores artifacts in a folder, or in a real S3 server
// with s3 (root is then empty).
func setupArtifactsAPI(t *testing.T, s3 ...bool) *artifactsAPI {
	t.Helper()
	ctx := context.Background()
	var b artifacts.Backend
	var err error
	root := ""
	if len(s3) > 0 && s3[0] {
		b, err = artifacts.NewS3(ctx, artifactstest.Start(t).Config("api-test"))
	} else {
		root = t.TempDir()
		b, err = artifacts.NewFS(root)
	}
	if err != nil {
		t.Fatal(err)
	}
	a := &artifactsAPI{adminAPI: setupAdminAPI(t, Config{MaxBodyBytes: 1 << 10}, true), root: root}
	// The service needs the store setupAdminAPI makes; no request has
	// been served yet.
	a.svc = artifacts.NewService(a.st, b, nil, 64<<10)
	a.srv.cfg.Artifacts = a.svc
	realm, err := a.st.CreateRealm(ctx, "lab2", "")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.st.CreateUser(ctx, store.NewUser{Username: "bob", RealmID: realm.ID})
	if err != nil {
		t.Fatal(err)
	}
	if a.bobToken, _, err = a.st.CreateToken(ctx, bob.ID, realm.ID, ""); err != nil {
		t.Fatal(err)
	}
	carol, err := a.st.CreateUser(ctx, store.NewUser{Username: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	if a.carolToken, _, err = a.st.CreateToken(ctx, carol.ID, store.DefaultRealm, ""); err != nil {
		t.Fatal(err)
	}
	return a
}

func tok(secret string) []string { return []string{"Authorization", "Token " + secret} }

func withSum(h []string, s string) []string { return append(h, ChecksumHeader, s) }

const artURL = "/api/v0.2/realms/default/artifacts/"

func TestRESTArtifacts(t *testing.T) {
	t.Parallel()
	for _, s3 := range []bool{false, true} {
		t.Run(map[bool]string{false: "fs", true: "s3"}[s3], func(t *testing.T) {
			t.Parallel()
			testRESTArtifacts(t, setupArtifactsAPI(t, s3))
		})
	}
}

func testRESTArtifacts(t *testing.T, a *artifactsAPI) {
	alice := tok(a.aliceToken)
	data := []byte("kernel image bytes")

	// Upload with a checksum: 201 and the record.
	r := a.raw(t, "PUT", artURL+"payload/kernels/Image", data, false, withSum(alice, strings.ToUpper(sum(data)))...)
	if r.code != http.StatusCreated {
		t.Fatalf("PUT = %d %s", r.code, r.body)
	}
	var got restArtifactJSON
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Path != "kernels/Image" ||
		got.Size != int64(len(data)) || got.SHA256 != sum(data) || got.Job != nil || got.Expires != nil {
		t.Fatalf("PUT reply %s (%v)", r.body, err)
	}
	// Larger than the API's 1 KiB body limit but under the 64 KiB artifact
	// limit, and with no checksum (computed), and chunked.
	big := bytes.Repeat([]byte("z"), 40<<10)
	if r := a.raw(t, "PUT", artURL+"payload/rootfs/big%20one.ext4", big, true, alice...); r.code != http.StatusCreated || !strings.Contains(r.body, sum(big)) {
		t.Fatalf("chunked PUT over the API body limit = %d %s", r.code, r.body)
	}

	// Download.
	r = a.raw(t, "GET", artURL+"payload/kernels/Image", nil, false, alice...)
	if r.code != 200 || r.body != string(data) || r.header.Get(ChecksumHeader) != sum(data) ||
		r.header.Get("Content-Length") != "18" {
		t.Fatalf("GET = %d %q %v", r.code, r.body, r.header)
	}
	r = a.raw(t, "GET", artURL+"payload/rootfs/big one.ext4", nil, false, alice...)
	if r.code != 200 || r.body != string(big) || r.header.Get(ChecksumHeader) != sum(big) {
		t.Fatalf("GET of the big one = %d %d bytes", r.code, len(r.body))
	}
	r = a.raw(t, "GET", artURL+"payload/kernels/Image", nil, false, append(alice, "Range", "bytes=7-11")...)
	if r.code != http.StatusPartialContent || r.body != "image" {
		t.Fatalf("Range GET = %d %q", r.code, r.body)
	}

	// List, with prefix and paging.
	r = a.raw(t, "GET", artURL+"payload/", nil, false, alice...)
	var page struct {
		Count   int64              `json:"count"`
		Next    *string            `json:"next"`
		Results []restArtifactJSON `json:"results"`
	}
	if err := json.Unmarshal([]byte(r.body), &page); r.code != 200 || err != nil || page.Count != 2 ||
		page.Results[0].Path != "kernels/Image" || page.Results[1].Path != "rootfs/big one.ext4" {
		t.Fatalf("list = %d %s", r.code, r.body)
	}
	r = a.raw(t, "GET", artURL+"payload/?prefix=rootfs/&limit=1", nil, false, alice...)
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || page.Count != 1 || page.Next != nil || page.Results[0].Size != 40<<10 {
		t.Fatalf("list rootfs/ = %d %s", r.code, r.body)
	}
	r = a.raw(t, "GET", artURL+"payload/?limit=1", nil, false, alice...)
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || page.Count != 2 || page.Next == nil || len(page.Results) != 1 {
		t.Fatalf("list page 1 = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", artURL+"temp/", nil, false, alice...); r.code != 200 || !strings.Contains(r.body, `"count":0`) {
		t.Fatalf("empty temp list = %d %s", r.code, r.body)
	}

	// Refusals.
	for _, c := range []struct {
		method, path string
		body         []byte
		header       []string
		code         int
		say          string
	}{
		{"PUT", "payload/bad", data, withSum(alice, sum([]byte("other"))), 400, "checksum mismatch"},
		{"PUT", "payload/bad", data, withSum(alice, "1234"), 400, "not a SHA-256"},
		{"PUT", "payload/a/../bad", data, alice, 400, `segment 2 is ".."`},
		{"PUT", "payload/a/%2E%2E/bad", data, alice, 400, `segment 2 is ".."`},
		{"PUT", "payload/a//bad", data, alice, 400, "empty segment"},
		{"PUT", "payload/a%00b", data, alice, 400, "unprintable"},
		{"PUT", "other/x", data, alice, 400, `area "other"`},
		{"PUT", "payload/too-big", make([]byte, 65<<10), alice, 413, "limit of 65536"},
		{"PUT", "temp/x", data, alice, 403, "written by jobs"},
		{"PUT", "payload/kernels/Image", data, tok(a.carolToken), 403, "uploaded by someone else"},
		{"DELETE", "payload/kernels/Image", nil, tok(a.carolToken), 403, "uploader or a superuser"},
		{"GET", "payload/nothing", nil, alice, 404, "Not found."},
		{"DELETE", "payload/nothing", nil, alice, 404, "Not found."},
		{"POST", "payload/x", data, alice, 405, "not allowed"},
		{"PUT", "payload/x", data, nil, 403, "credentials were not provided"},
	} {
		r := a.raw(t, c.method, artURL+c.path, c.body, false, c.header...)
		if r.code != c.code || !strings.Contains(strings.ReplaceAll(r.body, `\"`, `"`), c.say) {
			t.Errorf("%s %s = %d %s, want %d saying %q", c.method, c.path, r.code, r.body, c.code, c.say)
		}
	}
	// A chunked body over the limit is cut at the limit.
	if r := a.raw(t, "PUT", artURL+"payload/too-big", make([]byte, 65<<10), true, alice...); r.code != 413 {
		t.Errorf("chunked PUT over the limit = %d %s", r.code, r.body)
	}
	r = a.raw(t, "GET", artURL+"payload/", nil, false, alice...)
	if err := json.Unmarshal([]byte(r.body), &page); err != nil || page.Count != 2 {
		t.Fatalf("refused uploads stored something: %s", r.body)
	}

	// The superuser replaces and deletes; the uploader deletes.
	admin := tok(a.adminToken)
	if r := a.raw(t, "PUT", artURL+"payload/kernels/Image", []byte("v2"), false, admin...); r.code != 201 {
		t.Fatalf("superuser replace = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "DELETE", artURL+"payload/kernels/Image", nil, false, admin...); r.code != 204 {
		t.Fatalf("superuser DELETE = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "DELETE", artURL+"payload/rootfs/big%20one.ext4", nil, false, alice...); r.code != 204 {
		t.Fatalf("uploader DELETE = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", artURL+"payload/rootfs/big%20one.ext4", nil, false, alice...); r.code != 404 {
		t.Fatalf("GET after DELETE = %d", r.code)
	}
}

func TestRESTArtifactsRealmIsolation(t *testing.T) {
	t.Parallel()
	a := setupArtifactsAPI(t)
	data := []byte("default's")
	if r := a.raw(t, "PUT", artURL+"payload/x", data, false, tok(a.aliceToken)...); r.code != 201 {
		t.Fatalf("PUT = %d %s", r.code, r.body)
	}
	bob := tok(a.bobToken)
	// bob is not a member of default: the realm looks missing.
	for _, m := range []string{"GET /payload/x", "GET /payload/", "PUT /payload/y", "DELETE /payload/x", "GET /nosuch/"} {
		method, p, _ := strings.Cut(m, " ")
		r := a.raw(t, method, artURL[:len(artURL)-1]+p, []byte("b"), false, bob...)
		if r.code != 404 || r.body != `{"detail":"Not found."}` {
			t.Errorf("bob %s = %d %s", m, r.code, r.body)
		}
	}
	// His own realm has its own areas, with the same paths.
	lab2 := "/api/v0.2/realms/lab2/artifacts/"
	if r := a.raw(t, "PUT", lab2+"payload/x", []byte("lab2's"), false, bob...); r.code != 201 {
		t.Fatalf("bob PUT in lab2 = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", lab2+"payload/x", nil, false, bob...); r.body != "lab2's" {
		t.Fatalf("bob GET in lab2 = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", artURL+"payload/x", nil, false, tok(a.aliceToken)...); r.body != "default's" {
		t.Fatalf("alice GET in default = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", lab2+"payload/x", nil, false, tok(a.aliceToken)...); r.code != 404 {
		t.Fatalf("alice GET in lab2 = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "GET", "/api/v0.2/realms/nosuch/artifacts/payload/x", nil, false, tok(a.aliceToken)...); r.code != 404 {
		t.Fatalf("unknown realm = %d %s", r.code, r.body)
	}
}

func TestArtifactsNotConfigured(t *testing.T) {
	t.Parallel()
	a := setupAdminAPI(t, Config{}, true)
	if r := a.raw(t, "GET", artURL+"payload/", nil, false, tok(a.aliceToken)...); r.code != 503 || !strings.Contains(r.body, "not configured") {
		t.Fatalf("REST without storage = %d %s", r.code, r.body)
	}
	id := a.insertJob(t, "qemu-01", store.JobRunning, "jobtok", "")
	r := a.raw(t, "PUT", workerArtURL(id)+"temp/x", []byte("x"), false, "LAVA-Token", "jobtok", ChecksumHeader, sum([]byte("x")))
	if r.code != 503 || !strings.Contains(r.body, `"error"`) {
		t.Fatalf("worker API without storage = %d %s", r.code, r.body)
	}
}

func workerArtURL(id int64) string {
	return "/scheduler/internal/v1/jobs/" + jid(id) + "/artifacts/"
}

func TestWorkerArtifacts(t *testing.T) {
	t.Parallel()
	for _, s3 := range []bool{false, true} {
		t.Run(map[bool]string{false: "fs", true: "s3"}[s3], func(t *testing.T) {
			t.Parallel()
			testWorkerArtifacts(t, setupArtifactsAPI(t, s3))
		})
	}
}

func testWorkerArtifacts(t *testing.T, a *artifactsAPI) {
	ctx := context.Background()
	if r := a.raw(t, "PUT", artURL+"payload/in/rootfs", []byte("rootfs"), false, tok(a.aliceToken)...); r.code != 201 {
		t.Fatalf("payload PUT = %d %s", r.code, r.body)
	}
	id := a.insertJob(t, "qemu-01", store.JobRunning, "jobtok", "")
	job := []string{"LAVA-Token", "jobtok"}
	url := workerArtURL(id)

	// Download a payload.
	r := a.raw(t, "GET", url+"payload/in/rootfs", nil, false, job...)
	if r.code != 200 || r.body != "rootfs" || r.header.Get(ChecksumHeader) != sum([]byte("rootfs")) {
		t.Fatalf("job GET payload = %d %s %v", r.code, r.body, r.header)
	}
	// Upload an output, bigger than the API body limit.
	out := bytes.Repeat([]byte("log line\n"), 1000)
	r = a.raw(t, "PUT", url+"temp/"+jid(id)+"/out.log", out, false, withSum(job, sum(out))...)
	if r.code != 201 {
		t.Fatalf("job PUT = %d %s", r.code, r.body)
	}
	var reply struct {
		Path   string `json:"path"`
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	}
	if err := json.Unmarshal([]byte(r.body), &reply); err != nil || reply.Path != jid(id)+"/out.log" ||
		reply.Size != int64(len(out)) || reply.SHA256 != sum(out) {
		t.Fatalf("job PUT reply %s", r.body)
	}
	art, err := a.st.Artifact(ctx, store.DefaultRealm, store.AreaTemp, jid(id)+"/out.log")
	if err != nil || art.JobID == nil || *art.JobID != id || art.ExpiresAt == nil || art.UploaderID != nil {
		t.Fatalf("recorded %+v, %v", art, err)
	}
	// Users download it over REST.
	if r := a.raw(t, "GET", artURL+"temp/"+jid(id)+"/out.log", nil, false, tok(a.aliceToken)...); r.code != 200 || r.body != strings.TrimSpace(string(out)) {
		t.Fatalf("user GET temp = %d", r.code)
	}

	for _, c := range []struct {
		method, path string
		body         []byte
		header       []string
		code         int
		say          string
	}{
		{"PUT", "temp/nosum", out, job, 400, "missing X-Checksum-SHA256"},
		{"PUT", "temp/badsum", out, withSum(job, sum([]byte("no"))), 400, "checksum mismatch"},
		{"PUT", "temp/../x", out, withSum(job, sum(out)), 400, "invalid artifact path"},
		{"PUT", "temp/", out, withSum(job, sum(out)), 400, "no path"},
		{"PUT", "payload/x", out, withSum(job, sum(out)), 403, "temp area only"},
		{"GET", "temp/missing", nil, job, 404, `{"error":"Not found."}`},
		{"GET", "temp/x", nil, []string{"LAVA-Token", "wrong"}, 400, "Invalid 'token'"},
		{"GET", "temp/x", nil, nil, 400, "Missing 'token'"},
		{"DELETE", "temp/x", nil, job, 405, "not allowed"},
	} {
		r := a.raw(t, c.method, url+c.path, c.body, false, c.header...)
		if r.code != c.code || !strings.Contains(r.body, c.say) {
			t.Errorf("%s %s = %d %s, want %d saying %q", c.method, c.path, r.code, r.body, c.code, c.say)
		}
	}
	if r := a.raw(t, "GET", workerArtURL(id+100)+"temp/x", nil, false, job...); r.code != 404 || !strings.Contains(r.body, "Unknown job") {
		t.Fatalf("unknown job = %d %s", r.code, r.body)
	}
	if _, err := a.st.Artifact(ctx, store.DefaultRealm, store.AreaTemp, "badsum"); err == nil {
		t.Fatal("a mismatching upload was recorded")
	}

	// A finished job uploads no more.
	done := a.insertJob(t, "qemu-01", store.JobFinished, "donetok", "")
	r = a.raw(t, "PUT", workerArtURL(done)+"temp/late", out, false, "LAVA-Token", "donetok", ChecksumHeader, sum(out))
	if r.code != http.StatusConflict || !strings.Contains(r.body, "Finished") {
		t.Fatalf("PUT by a finished job = %d %s", r.code, r.body)
	}

	// A job of another realm sees that realm's areas only.
	lab2, err := a.st.RealmByName(ctx, "lab2")
	if err != nil {
		t.Fatal(err)
	}
	other := a.insertJob(t, "qemu-01", store.JobRunning, "othertok", "")
	if _, err := a.st.Pool().Exec(ctx, `UPDATE jobs SET realm_id = $1 WHERE id = $2`, lab2.ID, other); err != nil {
		t.Fatal(err)
	}
	oj := []string{"LAVA-Token", "othertok"}
	if r := a.raw(t, "GET", workerArtURL(other)+"payload/in/rootfs", nil, false, oj...); r.code != 404 {
		t.Fatalf("other realm's job GET of default's payload = %d %s", r.code, r.body)
	}
	if r := a.raw(t, "PUT", workerArtURL(other)+"temp/o", []byte("o"), false, withSum(oj, sum([]byte("o")))...); r.code != 201 {
		t.Fatalf("other realm's job PUT = %d %s", r.code, r.body)
	}
	if _, err := a.st.Artifact(ctx, lab2.ID, store.AreaTemp, "o"); err != nil {
		t.Fatalf("upload of lab2's job not in lab2: %v", err)
	}
}

func TestIsArtifactUpload(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]bool{
		"/api/v0.2/realms/default/artifacts/payload/x":  true,
		"/scheduler/internal/v1/jobs/12/artifacts/temp": true,
		"/api/v0.2/realms/default/members/":             false,
		"/api/v0.2/jobs/12/artifacts/":                  false,
		"/scheduler/internal/v1/jobs/12/logs/":          false,
	} {
		r, _ := http.NewRequest("PUT", "http://h"+path, nil)
		if got := isArtifactUpload(r); got != want {
			t.Errorf("isArtifactUpload(PUT %s) = %v", path, got)
		}
		r.Method = "POST"
		if isArtifactUpload(r) {
			t.Errorf("isArtifactUpload(POST %s) = true", path)
		}
	}
}

// A client that goes away in the middle of its upload leaves nothing: no
// artifact, no temporary file.
func TestRESTArtifactClientGone(t *testing.T) {
	t.Parallel()
	a := setupArtifactsAPI(t)
	u, err := url.Parse(a.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %spayload/cut/file HTTP/1.1\r\nHost: %s\r\nAuthorization: Token %s\r\nContent-Length: 50000\r\n\r\n",
		artURL, u.Host, a.aliceToken)
	if _, err := conn.Write(bytes.Repeat([]byte("x"), 20000)); err != nil {
		t.Fatal(err)
	}
	// Wait until the server has the upload in progress, then hang up.
	area := filepath.Join(a.root, "default", "payload")
	pollFor(t, "the upload to start", func() bool {
		return len(uploadFiles(t, area)) > 0
	})
	conn.Close()
	pollFor(t, "the cut upload to be cleaned up", func() bool {
		_, err := os.Stat(filepath.Join(area, "cut"))
		return errors.Is(err, fs.ErrNotExist)
	})
	if r := a.raw(t, "GET", artURL+"payload/cut/file", nil, false, tok(a.aliceToken)...); r.code != 404 {
		t.Fatalf("GET of a cut upload = %d %s", r.code, r.body)
	}
}

// uploadFiles lists the FS backend's temporary files under dir.
func uploadFiles(t *testing.T, dir string) []string {
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".golava-upload-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// pollFor waits up to 20 s for cond.
func pollFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// An upload slower than the server's read and write timeouts still
// completes while it keeps making progress (serve has ReadTimeout 60 s,
// WriteTimeout 10 min; a large artifact over a slow link takes longer).
func TestRESTArtifactSlowUpload(t *testing.T) {
	t.Parallel()
	a := setupArtifactsAPI(t)
	ts := httptest.NewUnstartedServer(a.srv.Handler())
	ts.Config.ReadTimeout, ts.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	ts.Start()
	t.Cleanup(ts.Close)
	pr, pw := io.Pipe()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for range 10 {
			<-tick.C
			if _, err := pw.Write(bytes.Repeat([]byte("s"), 1000)); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest("PUT", ts.URL+artURL+"payload/slow", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+a.aliceToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"size":10000`) {
		t.Fatalf("slow upload = %d %s", resp.StatusCode, body)
	}
}

// Stored bytes damaged behind the server's back are not served whole: the
// response ends short, and the client's read fails.
func TestRESTArtifactDamaged(t *testing.T) {
	t.Parallel()
	a := setupArtifactsAPI(t)
	data := bytes.Repeat([]byte("good"), 1000)
	if r := a.raw(t, "PUT", artURL+"payload/d", data, false, tok(a.aliceToken)...); r.code != 201 {
		t.Fatalf("PUT = %d %s", r.code, r.body)
	}
	bad := bytes.Repeat([]byte("evil"), 1000)
	if err := os.WriteFile(filepath.Join(a.root, "default", "payload", "d"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", a.ts.URL+artURL+"payload/d", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+a.aliceToken)
	// A small body fails before the headers leave, a large one midway.
	if resp, err := a.ts.Client().Do(req); err == nil {
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil || bytes.Equal(got, bad) {
			t.Fatalf("damaged artifact served whole: %d bytes, %v", len(got), err)
		}
	}
	// Ranges are served as stored: the client checks what it assembles.
	if r := a.raw(t, "GET", artURL+"payload/d", nil, false, append(tok(a.aliceToken), "Range", "bytes=0-3")...); r.code != 206 || r.body != "evil" {
		t.Fatalf("Range of a damaged artifact = %d %q", r.code, r.body)
	}
}
