package workerapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
)

// request is what the fake server saw.
type request struct {
	Method, Path, Query, Token, UA, ContentType string
	Form                                        url.Values
}

// fakeServer answers every request with status and body and records it.
func fakeServer(t *testing.T, status int, body string) (*Client, *request) {
	t.Helper()
	got := &request{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(data))
		*got = request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Token: r.Header.Get(TokenHeader),
			UA: r.Header.Get("User-Agent"), ContentType: r.Header.Get("Content-Type"), Form: form,
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return NewClient(srv.URL+"/", srv.Client(), ""), got
}

func TestClientRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	formCT := "application/x-www-form-urlencoded"
	tests := []struct {
		name  string
		reply string
		call  func(c *Client) (any, error)
		want  request
		out   any
	}{
		{
			name:  "register anonymous",
			reply: `{"name": "w1", "token": "tok"}`,
			call:  func(c *Client) (any, error) { return c.Register(ctx, "w1", "", "") },
			want:  request{Method: "POST", Path: Prefix + "workers/", ContentType: formCT, Form: url.Values{"name": {"w1"}}},
			out:   Registration{Name: "w1", Token: "tok"},
		},
		{
			name:  "register with credentials",
			reply: `{"name": "w1", "token": "tok"}`,
			call:  func(c *Client) (any, error) { return c.Register(ctx, "w1", "admin", "secret") },
			want: request{Method: "POST", Path: Prefix + "workers/", ContentType: formCT,
				Form: url.Values{"name": {"w1"}, "username": {"admin"}, "password": {"secret"}}},
			out: Registration{Name: "w1", Token: "tok"},
		},
		{
			name:  "ping",
			reply: `{"cancel": [{"id": 3, "token": "c"}], "running": [], "start": [{"id": 4, "token": "s"}]}`,
			call:  func(c *Client) (any, error) { return c.Ping(ctx, "lab host", "wtok") },
			want:  request{Method: "GET", Path: Prefix + "workers/lab host/", Query: "version=2023.01", Token: "wtok", Form: url.Values{}},
			out:   PingReply{Cancel: []JobRef{{3, "c"}}, Running: []JobRef{}, Start: []JobRef{{4, "s"}}},
		},
		{
			name:  "job config",
			reply: `{"definition": "d", "device": "dev", "dispatcher": "", "env": null, "env-dut": "e"}`,
			call:  func(c *Client) (any, error) { return c.JobConfig(ctx, 12, "jtok") },
			want:  request{Method: "GET", Path: Prefix + "jobs/12/", Token: "jtok", Form: url.Values{}},
			out:   JobConfig{Definition: "d", Device: "dev", EnvDUT: "e"},
		},
		{
			name:  "running",
			reply: `{}`,
			call:  func(c *Client) (any, error) { return nil, c.JobRunning(ctx, 12, "jtok") },
			want:  request{Method: "POST", Path: Prefix + "jobs/12/", Token: "jtok", ContentType: formCT, Form: url.Values{"state": {"RUNNING"}}},
		},
		{
			name:  "finished",
			reply: `{}`,
			call: func(c *Client) (any, error) {
				return nil, c.JobFinished(ctx, 12, "jtok", Finish{Result: "fail", ErrorType: "Bug", Errors: "trace", Description: "d: 1"})
			},
			want: request{Method: "POST", Path: Prefix + "jobs/12/", Token: "jtok", ContentType: formCT, Form: url.Values{
				"state": {"FINISHED"}, "result": {"fail"}, "error_type": {"Bug"}, "errors": {"trace"}, "description": {"d: 1"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, got := fakeServer(t, http.StatusOK, tt.reply)
			out, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			tt.want.UA = "lava-worker 2023.01"
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("request\n got %+v\nwant %+v", *got, tt.want)
			}
			if tt.out != nil && !reflect.DeepEqual(out, tt.out) {
				t.Errorf("reply\n got %+v\nwant %+v", out, tt.out)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name        string
		status      int
		body        string
		call        func(c *Client) error
		code        int
		message     string
		mismatch    bool
		unavailable bool
	}{
		{
			name: "version mismatch", status: 409, body: `{"error": "Version mismatch '2022.11' vs '2023.01'"}`,
			call: func(c *Client) error { _, err := c.Ping(ctx, "w", "t"); return err },
			code: 409, message: "Version mismatch '2022.11' vs '2023.01'", mismatch: true,
		},
		{
			name: "unknown worker", status: 404, body: `{"error": "Unknown worker 'w'"}`,
			call: func(c *Client) error { _, err := c.Ping(ctx, "w", "t"); return err },
			code: 404, message: "Unknown worker 'w'",
		},
		{
			name: "server error with html", status: 502, body: "<html>Bad Gateway</html>\n",
			call: func(c *Client) error { return c.JobRunning(ctx, 1, "t") },
			code: 502, message: "<html>Bad Gateway</html>", unavailable: true,
		},
		{
			name: "registration refused", status: 403, body: `{"error": "Auto registration is disabled"}`,
			call: func(c *Client) error { _, err := c.Register(ctx, "w", "", ""); return err },
			code: 403, message: "Auto registration is disabled",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, tt.status, tt.body)
			err := tt.call(c)
			herr, ok := errors.AsType[*HTTPError](err)
			if !ok {
				t.Fatalf("error %v is not an *HTTPError", err)
			}
			if herr.Code != tt.code || herr.Message != tt.message {
				t.Errorf("got %d %q, want %d %q", herr.Code, herr.Message, tt.code, tt.message)
			}
			if errors.Is(err, ErrVersionMismatch) != tt.mismatch {
				t.Errorf("errors.Is(ErrVersionMismatch) = %v", !tt.mismatch)
			}
			if herr.ServerUnavailable() != tt.unavailable {
				t.Errorf("ServerUnavailable() = %v", !tt.unavailable)
			}
		})
	}
}

func TestClientBadReplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		body string
		call func(c *Client) error
	}{
		{"ping not json", "<html>", func(c *Client) error { _, err := c.Ping(ctx, "w", "t"); return err }},
		{"config missing env-dut", `{"definition": "", "device": "", "dispatcher": "", "env": ""}`,
			func(c *Client) error { _, err := c.JobConfig(ctx, 1, "t"); return err }},
		{"register without token", `{"name": "w"}`,
			func(c *Client) error { _, err := c.Register(ctx, "w", "", ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, http.StatusOK, tt.body)
			err := tt.call(c)
			if err == nil {
				t.Fatal("no error")
			}
			if _, ok := errors.AsType[*HTTPError](err); ok {
				t.Errorf("bad 200 reply %v reported as an HTTP error", err)
			}
		})
	}
}

func TestClientConnectionRefusedIs503(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens there any more
	c := NewClient(srv.URL, nil, "")
	_, err := c.Ping(context.Background(), "w", "t")
	herr, ok := errors.AsType[*HTTPError](err)
	if !ok || herr.Code != http.StatusServiceUnavailable || herr.Err == nil || !herr.ServerUnavailable() {
		t.Fatalf("got %#v, want a 503 wrapping the dial error", err)
	}
}

func TestClientContextCanceled(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := NewClient(srv.URL, srv.Client(), "").JobRunning(ctx, 1, "t")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
