package run

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"os"
	"strconv"
	"strings"

	"golava/pkg/testshell"
)

// The DUT's lava-artifact-upload FILE [NAME] prints
//
//	<LAVA_SIGNAL_ARTIFACT_START NAME SIZE SHA256>
//	base64 lines of FILE
//	<LAVA_SIGNAL_ARTIFACT_END NAME>
//
// on the console (the DUT may have no network). lava-run keeps the base64
// out of the job log, decodes it, checks size and SHA-256, PUTs the file
// into the realm's temp area as NAME, logs one summary line and records
// the test case lava-artifact-upload-NAME (pass or fail) in the suite of
// the definition that called the helper ("lava" outside any).
const (
	sigArtifactStart = "ARTIFACT_START"
	sigArtifactEnd   = "ARTIFACT_END"
)

// isBase64Line reports whether a cleaned console line can be a line of
// base64 output; anything else during a transfer is other output (a
// kernel message, a trace) and is logged, not decoded.
func isBase64Line(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// artifactGate is the console's log filter while a test shell runs: it
// hides the base64 lines between an ARTIFACT_START and the next signal.
// It only runs on the console's reader, so it needs no lock.
type artifactGate struct{ active bool }

func (g *artifactGate) hide(raw []byte) bool {
	if !g.active && !bytes.Contains(raw, []byte(sigArtifactStart)) {
		return false // the common case, without a copy of the line
	}
	line := testshell.CleanLine(string(raw))
	if sig, ok := testshell.ParseLine(line); ok {
		g.active = sig.Name == sigArtifactStart
		return false
	}
	return g.active && isBase64Line(line)
}

func (g *artifactGate) holding() bool { return g.active }

// upload is one file being received from the DUT.
type upload struct {
	name    string
	size    int64
	want    string
	path    string // the decoded bytes so far, in the job's folder
	f       *os.File
	h       hash.Hash
	got     int64
	pending string // base64 characters of an incomplete quantum
	err     error  // the first failure; later lines are dropped
}

// startUpload reads an ARTIFACT_START signal. The upload is returned even
// when it already failed, so that its data lines are still consumed.
func startUpload(dir string, p []string) *upload {
	u := &upload{h: sha256.New()}
	if len(p) > 0 {
		u.name = p[0]
	}
	if len(p) != 3 {
		u.err = fmt.Errorf("invalid ARTIFACT_START signal %q: want NAME SIZE SHA256", strings.Join(p, " "))
		return u
	}
	if err := checkArtifactName(u.name); err != nil {
		u.err = err
		return u
	}
	size, err := strconv.ParseInt(p[1], 10, 64)
	if err != nil || size < 0 {
		u.err = fmt.Errorf("invalid size %q", p[1])
		return u
	}
	u.size = size
	if size > maxUpload {
		u.err = fmt.Errorf("%d bytes is more than the %d MiB an upload may have", size, maxUpload>>20)
		return u
	}
	u.want = strings.ToLower(p[2])
	if b, err := hex.DecodeString(u.want); err != nil || len(b) != sha256.Size {
		u.err = fmt.Errorf("invalid sha256 %q", p[2])
		return u
	}
	if dir == "" {
		dir = os.TempDir()
	}
	if u.f, err = os.CreateTemp(dir, "artifact-upload-*"); err != nil {
		u.err = fmt.Errorf("store the upload on the worker: %v", err)
		return u
	}
	u.path = u.f.Name()
	return u
}

// add decodes one base64 line. Lines need not be whole quanta: what is
// left over waits for the next line.
func (u *upload) add(line string) {
	if u.err != nil {
		return
	}
	u.pending += strings.TrimSpace(line)
	n := len(u.pending) / 4 * 4
	if n == 0 {
		return
	}
	data, err := base64.StdEncoding.DecodeString(u.pending[:n])
	if err != nil {
		u.err = fmt.Errorf("corrupt base64 after %d bytes: %v", u.got, err)
		return
	}
	u.pending = u.pending[n:]
	if u.got+int64(len(data)) > u.size {
		u.err = fmt.Errorf("more than the announced %d bytes", u.size)
		return
	}
	u.got += int64(len(data))
	u.h.Write(data)
	if _, err := u.f.Write(data); err != nil {
		u.err = fmt.Errorf("store the upload on the worker: %v", err)
	}
}

// end checks what was received against the ARTIFACT_START announcement.
func (u *upload) end(p []string) error {
	if u.err != nil {
		return u.err
	}
	if len(p) != 1 || p[0] != u.name {
		return fmt.Errorf("ARTIFACT_END %q does not close the upload of %q", strings.Join(p, " "), u.name)
	}
	if u.pending != "" {
		return fmt.Errorf("truncated base64 (%d characters left over)", len(u.pending))
	}
	if u.got != u.size {
		return fmt.Errorf("received %d bytes, %d announced", u.got, u.size)
	}
	if got := hex.EncodeToString(u.h.Sum(nil)); got != u.want {
		return fmt.Errorf("sha256 mismatch: received %s, announced %s", got, u.want)
	}
	if err := u.f.Close(); err != nil {
		return fmt.Errorf("store the upload on the worker: %v", err)
	}
	return nil
}

func (u *upload) discard() {
	if u.f != nil {
		u.f.Close()
		os.Remove(u.path)
	}
}

// artifactCaseName is the test case of an upload: the NAME with what a
// results URL cannot hold ('/' and the like) turned into '_'.
func artifactCaseName(name string) string {
	b := []byte("lava-artifact-upload-" + name)
	for i, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// artifactLine handles the console lines of an upload in the test shell;
// false means the line is not part of one.
func (ts *shellState) artifactLine(ctx context.Context, line string, sig testshell.Signal, isSig bool) bool {
	switch {
	case isSig && sig.Name == sigArtifactStart:
		if ts.upload != nil {
			ts.finishUpload(ctx, fmt.Errorf("interrupted by the upload of %q", sig.Params[0]))
		}
		ts.upload = startUpload(ts.j.OutDir, sig.Params)
		return true
	case ts.upload == nil:
		return false
	case isSig && sig.Name == sigArtifactEnd:
		ts.finishUpload(ctx, ts.upload.end(sig.Params))
		return true
	case isSig:
		ts.finishUpload(ctx, fmt.Errorf("no ARTIFACT_END before <%s>", sig.Name))
		return false
	case isBase64Line(line):
		ts.upload.add(line)
		return true
	}
	return false
}

// finishUpload PUTs a received file (err == nil) and records the result.
func (ts *shellState) finishUpload(ctx context.Context, err error) {
	u := ts.upload
	ts.upload = nil
	defer u.discard()
	if err == nil {
		err = ts.j.artifacts.uploadTemp(ctx, u.name, u.path, u.size, u.want)
		if err != nil {
			err = fmt.Errorf("upload to the server: %v", err)
		}
	}
	suite := ts.definition
	if suite == "" {
		suite = "lava"
	}
	res := map[string]any{"definition": suite, "case": artifactCaseName(u.name), "result": "pass"}
	if ts.testset != "" {
		res["set"] = ts.testset
	}
	if err != nil {
		ts.j.Log.Errorf("artifact %s: %v", u.name, err)
		res["result"] = "fail"
		res["error"] = err.Error()
	} else {
		ts.j.Log.Infof("artifact %s: %d bytes, sha256 %s, uploaded", u.name, u.size, u.want)
		res["artifact"], res["size"], res["sha256"] = "temp/"+u.name, u.size, u.want
	}
	ts.j.Log.Results(res)
}

// endUpload reports an upload the test shell left unfinished.
func (ts *shellState) endUpload(ctx context.Context) {
	if ts.upload != nil {
		ts.finishUpload(ctx, fmt.Errorf("the test shell ended before ARTIFACT_END"))
	}
}
