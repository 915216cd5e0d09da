package run

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"golava/pkg/workerapi"
)

// Realm artifacts: artifact://payload/PATH and artifact://temp/PATH name
// files of the job's realm, served by the worker API of the server that
// runs the job (its URL and job token are lava-run's --url and --token).
const (
	artifactScheme = "artifact"
	// checksumHeader carries the hex SHA-256 of an artifact both ways.
	checksumHeader = "X-Checksum-SHA256"
	// maxUpload bounds one file the DUT sends with lava-artifact-upload.
	maxUpload = 64 << 20
)

// artifactAreas are the areas of a realm a job may name.
var artifactAreas = map[string]bool{"payload": true, "temp": true}

// artifactServer is the server's artifact endpoint for this job; nil when
// lava-run has no server URL.
type artifactServer struct {
	base   string // .../scheduler/internal/v1/jobs/ID/artifacts/
	token  string
	client *http.Client
}

func newArtifactServer(cfg Config) *artifactServer {
	if cfg.URL == "" {
		return nil
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	return &artifactServer{
		base:  strings.TrimRight(cfg.URL, "/") + workerapi.Prefix + "jobs/" + url.PathEscape(cfg.JobID) + "/artifacts/",
		token: cfg.Token, client: client,
	}
}

// artifactPath splits artifact://AREA/PATH into its area and its path,
// refusing what the server could not store (absolute, .., empty parts).
func artifactPath(u *url.URL) (area, p string, err error) {
	area = u.Host
	if !artifactAreas[area] {
		return "", "", fmt.Errorf("unknown artifact area %q (use artifact://payload/PATH or artifact://temp/PATH)", area)
	}
	p = strings.TrimPrefix(u.Path, "/")
	if err := checkArtifactPath(p); err != nil {
		return "", "", err
	}
	return area, p, nil
}

// checkArtifactPath accepts a relative path of non-empty parts other than
// . and .., without control characters; the server has the last word.
func checkArtifactPath(p string) error {
	if p == "" {
		return fmt.Errorf("empty artifact path")
	}
	if len(p) > 1024 {
		return fmt.Errorf("artifact path of %d bytes is longer than 1024", len(p))
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("artifact path %q: empty, . or .. part", p)
		}
	}
	for _, r := range p {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("artifact path %q: control character", p)
		}
	}
	return nil
}

// checkArtifactName is checkArtifactPath for the NAME of an upload, which
// travels in a console signal: no blank, <, > or \\ either.
func checkArtifactName(p string) error {
	if err := checkArtifactPath(p); err != nil {
		return err
	}
	if strings.ContainsAny(p, " <>\\") {
		return fmt.Errorf("artifact name %q: blank, <, > or \\", p)
	}
	return nil
}

// endpoint is the worker API URL of one artifact.
func (s *artifactServer) endpoint(area, p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		parts[i] = url.PathEscape(part)
	}
	return s.base + area + "/" + strings.Join(parts, "/")
}

// open GETs an artifact:// URL. where names the job field for
// the job's own mistakes; the reply's X-Checksum-SHA256 is checked by the
// returned source's verify.
func (s *artifactServer) open(ctx context.Context, u *url.URL, where string) (*source, error) {
	if s == nil {
		return nil, JobError("%s: %s: artifact:// needs the server URL (lava-run --url)", where, u)
	}
	area, p, err := artifactPath(u)
	if err != nil {
		return nil, JobError("%s: %s: %v", where, u, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint(area, p), nil)
	if err != nil {
		return nil, Bug("%s: %v", where, err)
	}
	req.Header.Set(workerapi.TokenHeader, s.token)
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, InfraError("%s: unable to fetch %s: %v", where, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := replyError(resp)
		if resp.StatusCode == http.StatusNotFound {
			return nil, JobError("%s: unable to fetch %s: not found in the realm's %s area (%s)", where, u, area, msg)
		}
		return nil, InfraError("%s: unable to fetch %s: HTTP %d: %s", where, u, resp.StatusCode, msg)
	}
	want := strings.ToLower(strings.TrimSpace(resp.Header.Get(checksumHeader)))
	if want == "" {
		resp.Body.Close()
		return nil, InfraError("%s: the server sent %s without its %s header", where, u, checksumHeader)
	}
	return &source{ReadCloser: resp.Body, size: resp.ContentLength, url: u.String(), want: want, h: sha256.New()}, nil
}

// replyError reads the error of a worker API reply (JSON {"error": ...}),
// or the start of its body.
func replyError(resp *http.Response) string {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if s := workerapi.ErrorMessage(data); s != "" {
		return s
	}
	return resp.Status
}

// source is an opened download. When the server announced a SHA-256
// (artifact://), the bytes read are hashed and verify compares them.
type source struct {
	io.ReadCloser
	size int64
	url  string
	want string // hex SHA-256 announced by the server, "" when none
	h    hash.Hash
}

func (s *source) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if s.h != nil {
		s.h.Write(p[:n])
	}
	return n, err
}

// verify reads what the consumer left (a tar or gzip reader stops at its
// end marker) and compares the SHA-256 with the server's: a difference is
// a transfer or storage fault, an InfrastructureError naming the URL.
func (s *source) verify() error {
	if s.want == "" {
		return nil
	}
	if _, err := io.Copy(io.Discard, s); err != nil {
		return InfraError("download %s: %v", s.url, err)
	}
	if got := hex.EncodeToString(s.h.Sum(nil)); got != s.want {
		return InfraError("sha256 mismatch for %s: the server announced %s, received %s", s.url, s.want, got)
	}
	return nil
}

// uploadTemp PUTs the file at p into the realm's temp area as name.
func (s *artifactServer) uploadTemp(ctx context.Context, name, p string, size int64, sum string) error {
	if s == nil {
		return fmt.Errorf("artifact upload needs the server URL (lava-run --url)")
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.endpoint("temp", name), f)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set(workerapi.TokenHeader, s.token)
	req.Header.Set(checksumHeader, sum)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server answered HTTP %d: %s", resp.StatusCode, replyError(resp))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return nil
}
