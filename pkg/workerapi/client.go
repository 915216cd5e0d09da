package workerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// UserAgent is the User-Agent lava-worker sends.
const UserAgent = "lava-worker " + Version

// maxReplyBytes bounds a reply body: a job configuration carries the job
// definition and the rendered device dictionary, a few MB at most.
const maxReplyBytes = 64 << 20

// ErrVersionMismatch matches (errors.Is) the 409 a server answers a ping of
// a worker whose version differs from its own when nothing runs there.
var ErrVersionMismatch = errors.New("version mismatch")

// HTTPError is a call that did not get a 200. A failed connection is an
// HTTPError with Code 503, as LAVA's worker counts it, and Err holds the cause.
type HTTPError struct {
	Code    int
	Message string // the "error" of a JSON error body, else the body text
	Err     error  // transport error behind a synthetic 503, else nil
}

func (e *HTTPError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Message)
}

// Unwrap returns the transport error, if any.
func (e *HTTPError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrVersionMismatch) true for a 409.
func (e *HTTPError) Is(target error) bool {
	return target == ErrVersionMismatch && e.Code == http.StatusConflict
}

// ServerUnavailable reports a 5xx or a failed connection: the server is
// down or restarting and the call is worth retrying soon.
func (e *HTTPError) ServerUnavailable() bool { return e.Code/100 == 5 }

// Client speaks the worker side of the protocol. Every method honours its
// context: cancelling it aborts the request and returns a 503 HTTPError
// that wraps the context's error.
type Client struct {
	base      string // server root + Prefix
	http      *http.Client
	userAgent string
}

// NewClient returns a client of the server at baseURL (its root, without
// /scheduler/...). httpClient nil means http.DefaultClient; its Timeout is
// the --http-timeout. userAgent "" means UserAgent.
func NewClient(baseURL string, httpClient *http.Client, userAgent string) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	if userAgent == "" {
		userAgent = UserAgent
	}
	return &Client{
		base:      strings.TrimRight(baseURL, "/") + Prefix,
		http:      httpClient,
		userAgent: userAgent,
	}
}

// Register asks for a worker token (POST workers/). Username and password
// are sent only when both are given, as LAVA does.
func (c *Client) Register(ctx context.Context, name, username, password string) (Registration, error) {
	form := url.Values{"name": {name}}
	if username != "" && password != "" {
		form.Set("username", username)
		form.Set("password", password)
	}
	var reg Registration
	if err := c.do(ctx, http.MethodPost, "workers/", "", form, &reg); err != nil {
		return Registration{}, fmt.Errorf("register worker %q: %w", name, err)
	}
	if reg.Token == "" {
		return Registration{}, fmt.Errorf("register worker %q: reply without a token", name)
	}
	return reg, nil
}

// Ping reports the worker alive and returns the jobs to start, cancel and
// keep running (GET workers/<name>/?version=).
func (c *Client) Ping(ctx context.Context, name, workerToken string) (PingReply, error) {
	path := "workers/" + url.PathEscape(name) + "/?" + url.Values{"version": {Version}}.Encode()
	var reply PingReply
	if err := c.do(ctx, http.MethodGet, path, workerToken, nil, &reply); err != nil {
		return PingReply{}, fmt.Errorf("ping as %q: %w", name, err)
	}
	return reply, nil
}

// JobConfig fetches the five YAML documents of a job (GET jobs/<id>/).
// A reply missing one of them is an error, as it is for LAVA.
func (c *Client) JobConfig(ctx context.Context, id int64, jobToken string) (JobConfig, error) {
	var raw map[string]*string
	if err := c.do(ctx, http.MethodGet, jobPath(id), jobToken, nil, &raw); err != nil {
		return JobConfig{}, fmt.Errorf("get job %d: %w", id, err)
	}
	var cfg JobConfig
	fields := []struct {
		key string
		dst *string
	}{
		{"definition", &cfg.Definition}, {"device", &cfg.Device}, {"dispatcher", &cfg.Dispatcher},
		{"env", &cfg.Env}, {"env-dut", &cfg.EnvDUT},
	}
	for _, f := range fields {
		v, ok := raw[f.key]
		if !ok {
			return JobConfig{}, fmt.Errorf("get job %d: reply without %q", id, f.key)
		}
		if v != nil {
			*f.dst = *v
		}
	}
	return cfg, nil
}

// JobRunning tells the server lava-run was started (POST state=RUNNING).
// The server accepts it again for a job already running.
func (c *Client) JobRunning(ctx context.Context, id int64, jobToken string) error {
	form := url.Values{"state": {StateRunning}}
	if err := c.do(ctx, http.MethodPost, jobPath(id), jobToken, form, nil); err != nil {
		return fmt.Errorf("set job %d running: %w", id, err)
	}
	return nil
}

// JobFinished reports the end of a job (POST state=FINISHED with its result).
func (c *Client) JobFinished(ctx context.Context, id int64, jobToken string, f Finish) error {
	form := url.Values{
		"state":       {StateFinished},
		"result":      {f.Result},
		"error_type":  {f.ErrorType},
		"errors":      {f.Errors},
		"description": {f.Description},
	}
	if err := c.do(ctx, http.MethodPost, jobPath(id), jobToken, form, nil); err != nil {
		return fmt.Errorf("set job %d finished: %w", id, err)
	}
	return nil
}

func jobPath(id int64) string { return "jobs/" + strconv.FormatInt(id, 10) + "/" }

// do sends one request and decodes a 200 reply into out (nil: ignore it).
func (c *Client) do(ctx context.Context, method, path, token string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", c.userAgent)
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &HTTPError{Code: http.StatusServiceUnavailable, Message: err.Error(), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes+1))
	if err != nil {
		return &HTTPError{Code: http.StatusServiceUnavailable, Message: "read reply: " + err.Error(), Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Code: resp.StatusCode, Message: ErrorMessage(data)}
	}
	if len(data) > maxReplyBytes {
		return fmt.Errorf("reply larger than %d bytes", maxReplyBytes)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode reply: %w", err)
	}
	return nil
}

// ErrorMessage extracts {"error": ...} from a worker API reply body, or
// falls back to the start of the body (an HTML page from a proxy, say).
func ErrorMessage(body []byte) string {
	var e ErrorReply
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return s
}
