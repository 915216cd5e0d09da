package lab_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/server/artifacts/artifactstest"
	"golava/server/store/storetest"
)

// Realm artifacts end to end (issue 10, acceptance 2), on the filesystem
// and the S3 backend: a test definition and its script are uploaded to the
// default realm's payload area; job 1 runs them from artifact://payload/,
// and its script makes files on the DUT and sends them with
// lava-artifact-upload; job 2 deploys one of them and runs a test
// definition job 1 built, both from artifact://temp/, and proves it read
// what job 1 wrote.
func TestArtifactsEndToEnd(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"fs", "s3"} {
		t.Run(backend, func(t *testing.T) {
			dir := shortTempDir(t)
			flag := "--artifacts-dir=" + filepath.Join(dir, "artifacts")
			if backend == "s3" {
				flag = "--artifacts-s3=" + artifactstest.Start(t).URL("golava-e2e")
			}
			testArtifactsEndToEnd(t, startArtifactLab(t, dir, flag))
		})
	}
}

// startArtifactLab is startLab with one board and the artifact storage
// flag given (a folder or an S3 bucket).
func startArtifactLab(t *testing.T, dir, storage string) *lab {
	t.Helper()
	dbURL := storetest.URL(t)
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "1",
		"--coordinator-listen", "127.0.0.1:0", "--database-url", dbURL, storage)
	m := p.waitOutput(readyRE, 90*time.Second)
	token := readFile(t, filepath.Join(dir, "admin-token"))
	return &lab{client: &client{t: t, base: m[1], token: token}, dir: dir, dbURL: dbURL, proc: p}
}

// The payload: job 1's test definition and script, and the definition and
// check job 2 runs once job 1 has added the file it made.
var artifactPayload = map[string]string{
	"producer.yaml": `metadata:
  format: Lava-Test Test Definition 1.0
  name: producer
  description: make a file on the DUT and send it to the realm's temp area
run:
  steps:
  - ./produce.sh
`,
	"produce.sh": `#!/bin/sh
set -e
printf 'made by job %s with nonce %s\n' "$LAVA_JOB_ID" "$NONCE" > made.txt
lava-artifact-upload made.txt e2e/made.txt
mkdir -p consumer
cp consumer.yaml check.sh made.txt consumer/
tar -C consumer -czf consumer.tar.gz .
lava-artifact-upload consumer.tar.gz e2e/consumer.tar.gz
`,
	"consumer.yaml": `metadata:
  format: Lava-Test Test Definition 1.0
  name: consumer
  description: check what job 1 made
run:
  steps:
  - lava-test-case job1-content --shell ./check.sh
`,
	"check.sh": `#!/bin/sh
echo "job 1 wrote: $(cat made.txt)"
[ "$(cat made.txt)" = "$EXPECTED" ]
`,
}

func payloadTar(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"producer.yaml", "produce.sh", "consumer.yaml", "check.sh"} {
		body := artifactPayload[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	return buf.Bytes()
}

const artifactJobHead = `device_type: dut-sim
job_name: %s
visibility: public
timeouts:
  job: {minutes: 4}
  action: {minutes: 2}
actions:
`

const artifactBoot = `- boot:
    method: minimal
    auto_login: {login_prompt: 'dut-sim login:', username: root}
    prompts: ['root@dut-sim:~# ']
`

func producerJob(nonce string) string {
	return fmt.Sprintf(artifactJobHead, "artifact producer") + artifactBoot + `- test:
    definitions:
    - from: url
      repository: artifact://payload/e2e/defs.tar.gz
      path: producer.yaml
      compression: gz
      name: producer
      parameters: {NONCE: ` + nonce + `}
`
}

func consumerJob(expected, madeSHA256 string) string {
	return fmt.Sprintf(artifactJobHead, "artifact consumer") + `- deploy:
    to: tmpfs
    images:
      rootfs:
        url: artifact://temp/e2e/made.txt
        sha256sum: ` + madeSHA256 + `
` + artifactBoot + `- test:
    definitions:
    - from: url
      repository: artifact://temp/e2e/consumer.tar.gz
      path: consumer.yaml
      compression: gz
      name: consumer
      parameters: {EXPECTED: '` + expected + `'}
`
}

type artifactView struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Job    *int64 `json:"job"`
}

func testArtifactsEndToEnd(t *testing.T, l *lab) {
	defs := payloadTar(t)
	sum := sha256.Sum256(defs)
	put, err := http.NewRequest(http.MethodPut, l.base+"/api/v0.2/realms/default/artifacts/payload/e2e/defs.tar.gz", bytes.NewReader(defs))
	if err != nil {
		t.Fatal(err)
	}
	put.Header.Set("Authorization", "Token "+l.token)
	put.Header.Set("X-Checksum-SHA256", hex.EncodeToString(sum[:]))
	resp, err := http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload of the payload: HTTP %d", resp.StatusCode)
	}

	nonce := rand.Text()
	id1 := l.submit(producerJob(nonce))
	j1 := l.waitFinished(id1, 3*time.Minute)
	log1 := l.logs(id1)
	if j1.Health != "Complete" {
		t.Fatalf("job 1 (%d) is %s: %v\n%s", id1, j1.Health, deref(j1.FailureComment), tail(log1, 60))
	}
	cases1 := l.testCases(id1)
	for _, c := range []string{"lava-artifact-upload-e2e_made.txt", "lava-artifact-upload-e2e_consumer.tar.gz"} {
		if cases1[c] != "pass" {
			t.Errorf("job 1: %s = %q, want pass (cases %v)\n%s", c, cases1[c], cases1, tail(log1, 60))
		}
	}
	made := fmt.Sprintf("made by job %d with nonce %s\n", id1, nonce)
	madeSum := sha256.Sum256([]byte(made))
	madeHex := hex.EncodeToString(madeSum[:])
	summary := fmt.Sprintf("artifact e2e/made.txt: %d bytes, sha256 %s, uploaded", len(made), madeHex)
	if !strings.Contains(log1, summary) {
		t.Errorf("job 1's log lacks %q:\n%s", summary, tail(log1, 60))
	}
	for _, rec := range checkLogYAML(t, log1) {
		if msg, ok := rec["msg"].(string); ok && rec["lvl"] == "target" && len(msg) >= 60 && isBase64(msg) {
			t.Errorf("job 1's log has a base64 line: %q", msg)
		}
	}

	// Job 1's files are in the temp area, the exact bytes, owned by job 1.
	var list struct {
		Results []artifactView `json:"results"`
	}
	l.getJSON("/api/v0.2/realms/default/artifacts/temp/?prefix=e2e/", &list)
	byPath := map[string]artifactView{}
	for _, a := range list.Results {
		byPath[a.Path] = a
	}
	if a := byPath["e2e/made.txt"]; a.SHA256 != madeHex || a.Size != int64(len(made)) || a.Job == nil || *a.Job != id1 {
		t.Errorf("temp/e2e/made.txt = %+v, want %d bytes, sha256 %s, job %d (list %+v)", a, len(made), madeHex, id1, list.Results)
	}
	if code, b := l.do("GET", "/api/v0.2/realms/default/artifacts/temp/e2e/made.txt", "", nil); code != http.StatusOK || string(b) != made {
		t.Errorf("GET temp/e2e/made.txt: %d %q, want %q", code, b, made)
	}

	id2 := l.submit(consumerJob(strings.TrimSuffix(made, "\n"), madeHex))
	j2 := l.waitFinished(id2, 3*time.Minute)
	log2 := l.logs(id2)
	if j2.Health != "Complete" {
		t.Fatalf("job 2 (%d) is %s: %v\n%s", id2, j2.Health, deref(j2.FailureComment), tail(log2, 60))
	}
	cases2 := l.testCases(id2)
	if cases2["job1-content"] != "pass" {
		t.Errorf("job 2: job1-content = %q, want pass (cases %v)\n%s", cases2["job1-content"], cases2, tail(log2, 60))
	}
	if want := "job 1 wrote: " + strings.TrimSuffix(made, "\n"); !strings.Contains(log2, want) {
		t.Errorf("job 2's log lacks %q:\n%s", want, tail(log2, 60))
	}
	if want := "rootfs sha256sum: " + madeHex; !strings.Contains(log2, want) {
		t.Errorf("job 2's deploy did not check the job's sha256sum (%q):\n%s", want, tail(log2, 60))
	}

	// A job naming a missing artifact fails as the job's fault, naming it.
	id3 := l.submit(strings.Replace(consumerJob("x", madeHex), "e2e/made.txt", "e2e/none.txt", 1))
	j3 := l.waitFinished(id3, 3*time.Minute)
	var failure map[string]any
	for _, rec := range checkLogYAML(t, l.logs(id3)) {
		if m, ok := rec["msg"].(map[string]any); ok && m["definition"] == "lava" && m["case"] == "job" {
			failure = m
		}
	}
	want := "actions[0].deploy.images.rootfs.url: unable to fetch artifact://temp/e2e/none.txt: not found"
	if j3.Health != "Incomplete" || failure["error_type"] != "Job" || !strings.Contains(fmt.Sprint(failure["error_msg"]), want) {
		t.Errorf("job 3 (%d) = %s, lava/job %v; want Incomplete, a Job error %q", id3, j3.Health, failure, want)
	}
}

func isBase64(s string) bool {
	for _, c := range strings.TrimSpace(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}
