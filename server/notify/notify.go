package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golava/pkg/events"
	"golava/server/publisher"
	"golava/server/store"
)

// Config configures a Service; only what a lab sets is required.
type Config struct {
	// SMTPHost and SMTPPort address the mail server; email is off when
	// SMTPHost is empty (recipients are then recorded as failed).
	SMTPHost string
	SMTPPort int // 25 when 0
	// SMTPUser and SMTPPassword authenticate (PLAIN) when set.
	SMTPUser     string
	SMTPPassword string
	// SMTPTLS is "none" (default on 127.0.0.1), "starttls" or "tls".
	SMTPTLS string
	// From is the sender (LAVA's SERVER_EMAIL); lava@localhost when empty.
	From string
	// BaseURL is the server's address, for links in mails; Run also records
	// it for the url of realm notices (store.SetBaseURL).
	BaseURL string
	// CallbackTimeout bounds one HTTP call (5 s when 0, as LAVA).
	CallbackTimeout time.Duration
	// Attempts is how many times a callback or a mail is tried (4 when 0).
	Attempts int
	// Backoff is the first wait between attempts, doubled each time (1 s
	// when 0).
	Backoff time.Duration
	// Workers bounds notifications sent at once (4 when 0).
	Workers int
	// StaleAfter is how old a claim still "sending" must be to be sent
	// again at start (its notifier died); 10 minutes when 0.
	StaleAfter time.Duration
	// Cursor names the outbox position kept in the database ("default").
	Cursor string
	// HTTPClient makes the callbacks and webhook POSTs; a client with
	// CallbackTimeout when nil.
	HTTPClient *http.Client
	// WebhookPoll is how often the webhook queue is read when nothing
	// wakes the sender (another notifier's work, a lost wake-up); 1 s when 0.
	WebhookPoll time.Duration
	// WebhookKeep is how long sent and failed webhook deliveries stay in
	// the database (30 days when 0).
	WebhookKeep time.Duration
}

func (c *Config) defaults() {
	if c.SMTPPort == 0 {
		c.SMTPPort = 25
	}
	if c.From == "" {
		c.From = "lava@localhost"
	}
	if c.CallbackTimeout <= 0 {
		c.CallbackTimeout = 5 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 4
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = 10 * time.Minute
	}
	if c.Cursor == "" {
		c.Cursor = "default"
	}
	if c.WebhookPoll <= 0 {
		c.WebhookPoll = time.Second
	}
	if c.WebhookKeep <= 0 {
		c.WebhookKeep = 30 * 24 * time.Hour
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.CallbackTimeout}
	}
}

// Service sends the notifications of finished (and running) jobs, and the
// realm notices to the realms' webhooks (webhooks.go). It reads events from
// the hub, starting after the last event it handled in a previous run, so a
// restart loses nothing; each notification is claimed in the database
// before it is sent, so none is sent twice.
type Service struct {
	st     *store.Store
	hub    *publisher.Hub
	logger *slog.Logger
	cfg    Config

	webhookWake chan struct{}
}

// New returns a Service reading events from hub.
func New(st *store.Store, hub *publisher.Hub, logger *slog.Logger, cfg Config) *Service {
	cfg.defaults()
	return &Service{st: st, hub: hub, logger: logger, cfg: cfg, webhookWake: make(chan struct{}, 1)}
}

// jobEvent is the part of a testjob event the service needs.
type jobEvent struct {
	Job    int64  `json:"job"`
	State  string `json:"state"`
	Health string `json:"health"`
}

// Run follows the events until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	from, ok, err := s.st.NotifyCursor(ctx, s.cfg.Cursor)
	if err != nil {
		return err
	}
	if s.cfg.BaseURL != "" {
		// Notices are written by whichever process finishes a job: they
		// read the server's address from the database.
		if err := s.st.SetBaseURL(ctx, s.cfg.BaseURL); err != nil {
			s.logger.Warn("notify: record the base URL for notices", slog.Any("error", err))
		}
	}
	if !ok {
		from = publisher.FromNow
	}
	isJob := func(e events.Event) bool {
		return isNotice(e) || e.Topic == events.TopicTestJob && (strings.Contains(e.Data, `"state": "Finished"`) || strings.Contains(e.Data, `"state": "Running"`))
	}
	sub, err := s.hub.Subscribe(ctx, from, isJob)
	if err != nil {
		return fmt.Errorf("notify: subscribe to events: %w", err)
	}
	defer func() { sub.Close() }() // sub is replaced after a catch-up
	if !ok {
		// First run: remember where we start, so a restart resumes here.
		if err := s.st.SetNotifyCursor(ctx, s.cfg.Cursor, sub.LastID()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Canceled before wg.Wait (defers run last first), also when Run fails.
	webhookCtx, stopWebhooks := context.WithCancel(ctx)
	defer stopWebhooks()
	wg.Go(func() { s.deliverWebhooks(webhookCtx) })
	// Claims left "sending" by a notifier that died are sent again.
	stale, err := s.st.ReleaseStaleNotifications(ctx, s.cfg.StaleAfter)
	if err != nil {
		s.logger.Warn("notify: release stale claims", slog.Any("error", err))
	}
	for _, n := range stale {
		j, err := s.st.JobByID(ctx, n.JobID)
		if err != nil {
			continue
		}
		s.logger.Info("notify: retrying an unfinished notification", slog.Int64("job", n.JobID), slog.String("state", n.State))
		wg.Go(func() { s.handle(ctx, jobEvent{Job: n.JobID, State: n.State, Health: j.Health}) })
	}
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, publisher.ErrHubClosed) {
				return nil
			}
			if errors.Is(err, publisher.ErrTooSlow) {
				// Resubscribe from where we are: the hub replays from the database.
				sub.Close()
				if sub, err = s.hub.Subscribe(ctx, sub.LastID(), isJob); err != nil {
					return fmt.Errorf("notify: resubscribe: %w", err)
				}
				continue
			}
			return fmt.Errorf("notify: events: %w", err)
		}
		if isNotice(m.Event) {
			if err := s.enqueueNotice(ctx, m.Event); err != nil {
				return nil // ctx ended; the cursor stays before this notice
			}
			if err := s.st.SetNotifyCursor(ctx, s.cfg.Cursor, m.Event.ID); err != nil && ctx.Err() == nil {
				s.logger.Warn("notify: save cursor", slog.Any("error", err))
			}
			continue
		}
		var ev jobEvent
		if err := json.Unmarshal([]byte(m.Event.Data), &ev); err != nil || ev.Job == 0 {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.handle(ctx, ev)
		})
		if err := s.st.SetNotifyCursor(ctx, s.cfg.Cursor, m.Event.ID); err != nil && ctx.Err() == nil {
			s.logger.Warn("notify: save cursor", slog.Any("error", err))
		}
	}
}

// handle sends what one job event calls for.
func (s *Service) handle(ctx context.Context, ev jobEvent) {
	log := s.logger.With(slog.Int64("job", ev.Job), slog.String("state", ev.State))
	j, err := s.st.JobByID(ctx, ev.Job)
	if err != nil {
		if ctx.Err() == nil {
			log.Warn("notify: read job", slog.Any("error", err))
		}
		return
	}
	spec, err := ParseSpec(j.Definition)
	if err != nil || spec == nil {
		if err != nil {
			log.Warn("notify: job definition", slog.Any("error", err))
		}
		return
	}
	if spec.Criteria.DependencyQuery != nil {
		log.Warn("notify: criteria.dependency_query is not supported (no query language); ignored")
	}
	previous := ""
	if spec.Criteria.Type != "" {
		if previous, err = s.st.PreviousJobHealth(ctx, j); err != nil {
			log.Warn("notify: previous job", slog.Any("error", err))
			return
		}
	}
	if !spec.Criteria.Matches(ev.State, ev.Health, previous) {
		return
	}
	s.notifyJob(ctx, log, j, ev.State, spec)
}

// SetSMTPAddr sets SMTPHost and SMTPPort from "host[:port]" (25 by default).
func (c *Config) SetSMTPAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		c.SMTPHost = addr
		return nil
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("SMTP server %q: bad port", addr)
	}
	c.SMTPHost, c.SMTPPort = host, p
	return nil
}
