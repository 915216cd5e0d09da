package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golava/pkg/events"
	"golava/server/store"
)

// Realm webhooks: each notice (the outbox event of a job reaching Finished)
// is queued in the database for every webhook of its realm, then POSTed by
// deliverWebhooks. The queue rows carry the claim, the attempts and the
// next try, so a restart neither resends a delivered notice nor loses one.

// Headers of a webhook POST.
const (
	// HeaderRealm names the realm of the notice.
	HeaderRealm = "X-Lava-Realm"
	// HeaderNotice is the notice's event id: a receiver that must act once
	// per notice uses it, as a POST cut short by a crash is sent again.
	HeaderNotice = "X-Lava-Notice"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body,
	// keyed with the webhook's secret; absent when it has none.
	HeaderSignature = "X-Lava-Signature-256"
)

// Sign is the HeaderSignature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// isNotice selects the notices of every realm.
func isNotice(e events.Event) bool { return e.Topic == events.TopicNotice }

// enqueueNotice queues a notice for its realm's webhooks, retrying while the
// database fails: the cursor must not pass a notice that is not queued.
func (s *Service) enqueueNotice(ctx context.Context, e events.Event) error {
	wait := s.cfg.Backoff
	for {
		n, err := s.st.EnqueueNotice(ctx, e.ID, e.Realm, e.Data)
		if err == nil {
			if n > 0 {
				s.pokeWebhooks()
			}
			return nil
		}
		s.logger.Warn("notify: queue notice for webhooks", slog.Int64("event", e.ID), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, time.Minute)
	}
}

func (s *Service) pokeWebhooks() {
	select {
	case s.webhookWake <- struct{}{}:
	default:
	}
}

// deliverWebhooks sends due deliveries until ctx ends, up to Workers at
// once; every StaleAfter/2 it also puts back the claims of a notifier that
// died mid-POST and prunes deliveries older than WebhookKeep.
func (s *Service) deliverWebhooks(ctx context.Context) {
	var lastRelease time.Time
	for ctx.Err() == nil {
		if time.Since(lastRelease) > s.cfg.StaleAfter/2 {
			if _, err := s.st.PruneDeliveries(ctx, s.cfg.WebhookKeep); err != nil {
				s.logger.Warn("notify: prune old webhook deliveries", slog.Any("error", err))
			}
			if n, err := s.st.ReleaseStaleDeliveries(ctx, s.cfg.StaleAfter); err != nil {
				s.logger.Warn("notify: release stale webhook deliveries", slog.Any("error", err))
			} else {
				lastRelease = time.Now()
				if n > 0 {
					s.logger.Info("notify: webhook deliveries left unfinished are retried", slog.Int64("count", n))
				}
			}
		}
		ds, err := s.st.ClaimDeliveries(ctx, s.cfg.Workers)
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("notify: claim webhook deliveries", slog.Any("error", err))
		}
		if len(ds) > 0 {
			var wg sync.WaitGroup
			for _, d := range ds {
				wg.Go(func() { s.deliver(ctx, d) })
			}
			wg.Wait()
			continue
		}
		// Jittered, so that several notifiers do not poll in step.
		wait := s.cfg.WebhookPoll/2 + rand.N(s.cfg.WebhookPoll/2+1)
		if in, ok, err := s.st.NextDeliveryIn(ctx); err == nil && ok {
			wait = min(wait, in)
		}
		select {
		case <-ctx.Done():
		case <-s.webhookWake:
		case <-time.After(wait):
		}
	}
}

// deliver POSTs one notice and records the outcome: a failure is retried
// after Backoff, doubled at each attempt, until Attempts tries.
func (s *Service) deliver(ctx context.Context, d store.Delivery) {
	log := s.logger.With(slog.Int64("webhook", d.WebhookID), slog.Int64("notice", d.EventID), slog.String("realm", d.Realm))
	err := s.post(ctx, d)
	if ctx.Err() != nil {
		// Shutting down: the try was cut short; the next start sends it
		// at once rather than after StaleAfter.
		if err := s.st.SettleDelivery(context.WithoutCancel(ctx), d, false, time.Millisecond, "interrupted by a shutdown"); err != nil {
			log.Warn("notify: record webhook delivery", slog.Any("error", err))
		}
		return
	}
	var retryIn time.Duration
	detail := ""
	switch {
	case err == nil:
		log.Info("notify: webhook delivered", slog.Int("attempt", d.Attempt))
	case d.Attempt < s.cfg.Attempts && retryable(err):
		retryIn = s.cfg.Backoff << (d.Attempt - 1)
		detail = err.Error()
		log.Warn("notify: webhook attempt failed", slog.Int("attempt", d.Attempt), slog.Duration("retry_in", retryIn), slog.Any("error", err))
	default:
		detail = err.Error()
		log.Error("notify: webhook delivery given up", slog.Int("attempts", d.Attempt), slog.Any("error", err))
	}
	if err := s.st.SettleDelivery(context.WithoutCancel(ctx), d, err == nil, retryIn, detail); err != nil {
		log.Warn("notify: record webhook delivery", slog.Any("error", err))
	}
	if retryIn > 0 {
		s.pokeWebhooks() // recompute the wait: this retry may be the earliest
	}
}

// statusError is a webhook's answer other than 2xx.
type statusError struct {
	url    string
	status int
	text   string
}

func (e *statusError) Error() string { return fmt.Sprintf("webhook %s: %s", e.url, e.text) }

// retryable tells a failure worth another try: no answer, a server error,
// 408 or 429. Other 4xx answers say the request itself is refused.
func retryable(err error) bool {
	se, ok := errors.AsType[*statusError](err)
	if !ok {
		return true
	}
	return se.status >= 500 || se.status == http.StatusRequestTimeout || se.status == http.StatusTooManyRequests
}

// post makes one POST of a delivery.
func (s *Service) post(ctx context.Context, d store.Delivery) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.CallbackTimeout)
	defer cancel()
	body := []byte(d.Body)
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", d.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "golava-notify")
	req.Header.Set(HeaderRealm, d.Realm)
	req.Header.Set(HeaderNotice, strconv.FormatInt(d.EventID, 10))
	if d.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(d.Secret, body))
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", d.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &statusError{url: d.URL, status: resp.StatusCode, text: resp.Status}
	}
	return nil
}
