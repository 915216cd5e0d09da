package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"
)

// Client defaults, as lava_dispatcher's MultinodeProtocol.
const (
	DefaultPort          = 3079
	DefaultBlockSize     = 4096
	DefaultPollDelay     = time.Second
	DefaultSystemTimeout = 90 * time.Second // LAVA_MULTINODE_SYSTEM_TIMEOUT
	DefaultAPITimeout    = 30 * time.Second // ACTION_TIMEOUT, the protocol's poll timeout
	// MaxClientMessage is the longest request LAVA's client will send.
	MaxClientMessage = 0xFFFE
)

// ErrTimeout is returned when a request kept getting "wait" past its timeout.
var ErrTimeout = errors.New("multinode protocol timed out")

// ClientConfig holds the base fields of every request and the poll settings.
type ClientConfig struct {
	Host      string // coordinator_hostname; "localhost" when empty
	Port      int    // 3079 when 0
	BlockSize int    // sent as "blocksize"; 4096 when 0
	// PollDelay is slept after each "wait" and added to the poll count that
	// the timeout is compared with (LAVA counts polls, not wall time).
	PollDelay  time.Duration
	Hostname   string // this worker's hostname
	ClientName string // the job id
	GroupName  string // target_group
	Role       string
	GroupSize  int
	// SystemTimeout bounds group_data, clear_group and the delayed start.
	SystemTimeout time.Duration
	// Timeout bounds API calls (lava_send, lava_wait, ...) given 0.
	Timeout time.Duration
	// ConnectBackoff is added to the retry delay after each failed connect;
	// 2 s when 0, as LAVA.
	ConnectBackoff time.Duration
	Logger         *slog.Logger
}

// Client speaks to a coordinator with LAVA's client loop: one connection per
// poll, retry on "wait" after PollDelay, give up after the timeout.
type Client struct {
	cfg    ClientConfig
	logger *slog.Logger
}

// Reply is a coordinator answer.
type Reply struct {
	Response string            // ack, nack, wait or group_data
	Message  any               // "message", decoded keeping key order (*Object for objects)
	Roles    map[string]string // "roles" of group_data: client -> role
	Raw      string            // the JSON text
}

// NewClient applies the defaults.
func NewClient(cfg ClientConfig) *Client {
	if cfg.Host == "" {
		cfg.Host = "localhost"
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultPort
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.PollDelay <= 0 {
		cfg.PollDelay = DefaultPollDelay
	}
	if cfg.SystemTimeout <= 0 {
		cfg.SystemTimeout = DefaultSystemTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultAPITimeout
	}
	if cfg.ConnectBackoff <= 0 {
		cfg.ConnectBackoff = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, logger: cfg.Logger}
}

// base is the message every request starts from, in LAVA's key order.
func (c *Client) base() *Object {
	o := NewObject().Set("port", c.cfg.Port).Set("blocksize", c.cfg.BlockSize)
	if c.cfg.PollDelay%time.Second == 0 {
		o.Set("poll_delay", int(c.cfg.PollDelay/time.Second))
	} else {
		o.Set("poll_delay", c.cfg.PollDelay.Seconds())
	}
	return o.Set("host", c.cfg.Host).Set("hostname", c.cfg.Hostname).
		Set("client_name", c.cfg.ClientName).Set("group_name", c.cfg.GroupName).
		Set("role", c.cfg.Role)
}

// GroupData registers this client and waits for the whole group; it returns
// client -> role.
func (c *Client) GroupData(ctx context.Context) (map[string]string, error) {
	r, err := c.Request(ctx, NewObject().Set("request", "group_data").Set("group_size", c.cfg.GroupSize), c.cfg.SystemTimeout)
	if err != nil {
		return nil, err
	}
	if r.Response != "group_data" {
		return nil, fmt.Errorf("group_data: coordinator answered %q", r.Response)
	}
	return r.Roles, nil
}

// ClearGroup tells the coordinator this client is done.
func (c *Client) ClearGroup(ctx context.Context) error {
	_, err := c.Request(ctx, c.clearRequest(), c.cfg.SystemTimeout)
	return err
}

func (c *Client) clearRequest() *Object {
	return NewObject().Set("request", "clear_group").Set("group_size", c.cfg.GroupSize)
}

// WaitStart is the delayed start: wait until the first client of expectRole
// sent "lava_start".
func (c *Client) WaitStart(ctx context.Context, expectRole string, timeout time.Duration) (*Reply, error) {
	if timeout <= 0 {
		timeout = c.cfg.SystemTimeout
	}
	return c.Request(ctx, NewObject().Set("request", "lava_wait_all").Set("waitrole", expectRole).Set("messageID", "lava_start"), timeout)
}

// Send is lava_send; msg may be nil.
func (c *Client) Send(ctx context.Context, id string, msg *Object, timeout time.Duration) (*Reply, error) {
	if msg == nil {
		msg = NewObject()
	}
	return c.Request(ctx, NewObject().Set("request", "lava_send").Set("messageID", id).Set("message", msg), timeout)
}

// Wait is lava_wait.
func (c *Client) Wait(ctx context.Context, id string, timeout time.Duration) (*Reply, error) {
	return c.Request(ctx, NewObject().Set("request", "lava_wait").Set("messageID", id).Set("nodeID", c.cfg.ClientName), timeout)
}

// WaitAll is lava_wait_all; a non-empty role waits for that role only.
func (c *Client) WaitAll(ctx context.Context, id, role string, timeout time.Duration) (*Reply, error) {
	req := NewObject().Set("request", "lava_wait_all").Set("messageID", id)
	if role != "" {
		req.Set("waitrole", role)
	}
	return c.Request(ctx, req, timeout)
}

// Sync is lava_sync.
func (c *Client) Sync(ctx context.Context, id string, timeout time.Duration) (*Reply, error) {
	return c.Request(ctx, NewObject().Set("request", "lava_sync").Set("messageID", id), timeout)
}

// Request sends the base fields updated with req until the answer is not
// "wait". timeout 0 means the API timeout. On timeout it sends one
// clear_group, as LAVA finalises the protocol, and returns ErrTimeout.
func (c *Client) Request(ctx context.Context, req *Object, timeout time.Duration) (*Reply, error) {
	if timeout <= 0 {
		timeout = c.cfg.Timeout
	}
	msg := c.base()
	msg.Update(req)
	body := msg.String()
	if len(body) > MaxClientMessage {
		return nil, fmt.Errorf("coordinator message of %d characters is longer than %d", len(body), MaxClientMessage)
	}
	request, _ := req.Get("request")
	var polled time.Duration
	delay := c.cfg.PollDelay
	for {
		polled += c.cfg.PollDelay
		text, err := c.exchange(ctx, body)
		if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var dialErr *net.OpError
		if errors.As(err, &dialErr) && dialErr.Op == "dial" {
			c.logger.Warn("coordinator connect failed", slog.String("addr", c.addr()), slog.Any("error", err))
			delay += c.cfg.ConnectBackoff
		} else {
			delay = c.cfg.PollDelay
			reply, perr := parseReply(text, err)
			if perr != nil {
				c.finalise(ctx, request)
				return nil, perr
			}
			if reply.Response != "wait" {
				return reply, nil
			}
		}
		if err := sleepCtx(ctx, delay); err != nil {
			return nil, err
		}
		if polled > timeout {
			c.finalise(ctx, request)
			return nil, fmt.Errorf("%v after %s: %w", request, timeout, ErrTimeout)
		}
	}
}

// finalise sends one clear_group, unless that is what failed.
func (c *Client) finalise(ctx context.Context, request any) {
	if request == "clear_group" {
		return
	}
	msg := c.base()
	msg.Update(c.clearRequest())
	if _, err := c.exchange(ctx, msg.String()); err != nil {
		c.logger.Warn("coordinator clear_group failed", slog.Any("error", err))
	}
}

func (c *Client) addr() string {
	return net.JoinHostPort(c.cfg.Host, strconv.Itoa(c.cfg.Port))
}

// exchange is one connection: send, close our side, read the reply. An
// empty reply is reported as "wait", as LAVA's client does.
func (c *Client) exchange(ctx context.Context, body string) (string, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", c.addr())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	if err := WriteMessage(conn, body); err != nil {
		return "", err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	reply, err := ReadMessage(conn, DefaultMaxMessage)
	if err != nil {
		return "", err
	}
	return string(reply), nil
}

// parseReply decodes an answer; transport errors and empty replies mean "wait".
func parseReply(text string, err error) (*Reply, error) {
	if err != nil || text == "" {
		return &Reply{Response: "wait", Raw: `{"response": "wait"}`}, nil
	}
	v, perr := ParseJSON([]byte(text))
	obj, ok := v.(*Object)
	if perr != nil || !ok {
		return nil, fmt.Errorf("coordinator reply %.42q is not a JSON object", text)
	}
	r := &Reply{Raw: text}
	r.Response, _ = keyOf(obj.Get("response"))
	r.Message, _ = obj.Get("message")
	if roles, ok := obj.Get("roles"); ok {
		if ro, ok := roles.(*Object); ok {
			r.Roles = map[string]string{}
			for _, k := range ro.Keys() {
				v, _ := ro.Get(k)
				r.Roles[k], _ = v.(string)
			}
		}
	}
	return r, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
