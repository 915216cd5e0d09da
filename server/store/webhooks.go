package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Webhooks of a realm and the durable queue of their deliveries
// (00100_realm_webhooks.sql). server/notify enqueues one delivery per notice
// and webhook, then claims, sends and settles them; the rows are the whole
// state, so any notifier may resume another's work.

// Webhook is one URL a realm's notices are POSTed to.
type Webhook struct {
	ID        int64
	RealmID   int64
	Realm     string
	URL       string
	Secret    string // HMAC key of the body's signature; "" signs nothing
	CreatedAt time.Time
	// Delivery counts, by status, of this webhook's notices.
	Pending, Sent, Failed int64
}

// maxWebhookURL bounds a URL (a row, a header in logs).
const maxWebhookURL = 2048

// ValidWebhookURL explains what is wrong with a webhook URL, or returns nil.
func ValidWebhookURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("webhook URL is empty: %w", ErrInvalid)
	}
	if len(raw) > maxWebhookURL {
		return fmt.Errorf("webhook URL: longer than %d characters: %w", maxWebhookURL, ErrInvalid)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("webhook URL %q: %v: %w", raw, err, ErrInvalid)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook URL %q: scheme must be http or https: %w", raw, ErrInvalid)
	}
	if u.Host == "" {
		return fmt.Errorf("webhook URL %q: no host: %w", raw, ErrInvalid)
	}
	if u.User != nil {
		return fmt.Errorf("webhook URL %q: credentials in the URL would be logged; use a secret: %w", raw, ErrInvalid)
	}
	return nil
}

const webhookColumns = `w.id, w.realm_id, r.name, w.url, w.secret, w.created_at,
    (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status IN ('pending', 'sending')),
    (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'sent'),
    (SELECT count(*) FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.status = 'failed')`

func scanWebhook(row pgx.Row) (*Webhook, error) {
	var w Webhook
	err := row.Scan(&w.ID, &w.RealmID, &w.Realm, &w.URL, &w.Secret, &w.CreatedAt, &w.Pending, &w.Sent, &w.Failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return &w, err
}

// CreateWebhook adds a webhook to a realm: ErrInvalid for a bad URL,
// ErrConflict when the realm has it already, ErrNotFound for no realm.
func (s *Store) CreateWebhook(ctx context.Context, realmID int64, rawURL, secret string) (*Webhook, error) {
	rawURL = strings.TrimSpace(rawURL)
	if err := ValidWebhookURL(rawURL); err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	if strings.ContainsAny(secret, "\r\n\x00") {
		return nil, fmt.Errorf("create webhook: secret holds a line break or NUL: %w", ErrInvalid)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `-- name: WebhookCreate :one
INSERT INTO realm_webhooks (realm_id, url, secret) VALUES ($1, $2, $3) RETURNING id`,
		realmID, rawURL, secret).Scan(&id)
	switch {
	case isUniqueViolation(err):
		return nil, fmt.Errorf("create webhook %s: the realm has it already: %w", rawURL, ErrConflict)
	case isForeignKeyViolation(err):
		return nil, fmt.Errorf("create webhook: realm %d: %w", realmID, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("create webhook %s: %w", rawURL, err)
	}
	return s.Webhook(ctx, realmID, id)
}

// Webhook returns a realm's webhook, ErrNotFound when the realm has no such
// id (another realm's webhook looks missing).
func (s *Store) Webhook(ctx context.Context, realmID, id int64) (*Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `-- name: WebhookGet :one
SELECT `+webhookColumns+`
FROM realm_webhooks w JOIN realms r ON r.id = w.realm_id WHERE w.realm_id = $1 AND w.id = $2`, realmID, id))
	if err != nil {
		return nil, fmt.Errorf("webhook %d: %w", id, err)
	}
	return w, nil
}

// ListWebhooks returns a realm's webhooks by id.
func (s *Store) ListWebhooks(ctx context.Context, realmID int64) ([]*Webhook, error) {
	rows, err := s.pool.Query(ctx, `-- name: WebhookList :many
SELECT `+webhookColumns+`
FROM realm_webhooks w JOIN realms r ON r.id = w.realm_id WHERE w.realm_id = $1 ORDER BY w.id`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Webhook, error) { return scanWebhook(r) })
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// DeleteWebhook removes a realm's webhook and its pending deliveries;
// ErrNotFound when the realm has no such id.
func (s *Store) DeleteWebhook(ctx context.Context, realmID, id int64) error {
	tag, err := s.pool.Exec(ctx, `-- name: WebhookDelete :exec
DELETE FROM realm_webhooks WHERE realm_id = $1 AND id = $2`, realmID, id)
	if err != nil {
		return fmt.Errorf("delete webhook %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %d: %w", id, ErrNotFound)
	}
	return nil
}

// DeleteWebhookURL removes the realm's webhook with that URL.
func (s *Store) DeleteWebhookURL(ctx context.Context, realmID int64, rawURL string) error {
	tag, err := s.pool.Exec(ctx, `-- name: WebhookDeleteURL :exec
DELETE FROM realm_webhooks WHERE realm_id = $1 AND url = $2`, realmID, strings.TrimSpace(rawURL))
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", rawURL, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("webhook %s: %w", rawURL, ErrNotFound)
	}
	return nil
}

// EnqueueNotice queues the notice (outbox event eventID of the realm named
// realm, body its data) for every webhook of the realm, once: enqueueing the
// same event again adds nothing. It returns how many deliveries it added.
func (s *Store) EnqueueNotice(ctx context.Context, eventID int64, realm, body string) (int64, error) {
	if realm == "" {
		realm = DefaultRealmName
	}
	tag, err := s.pool.Exec(ctx, `-- name: DeliveryEnqueue :exec
INSERT INTO webhook_deliveries (webhook_id, event_id, body)
SELECT w.id, $1, $3 FROM realm_webhooks w JOIN realms r ON r.id = w.realm_id WHERE r.name = $2
ON CONFLICT DO NOTHING`, eventID, realm, body)
	if err != nil {
		return 0, fmt.Errorf("queue notice %d for webhooks: %w", eventID, err)
	}
	return tag.RowsAffected(), nil
}

// Delivery is one claimed POST of a notice to a webhook.
type Delivery struct {
	WebhookID int64
	EventID   int64
	URL       string
	Secret    string
	Realm     string
	Body      string
	Attempt   int // 1 for the first try
}

// ClaimDeliveries marks up to limit due deliveries as being sent and returns
// them; concurrent claimers get different ones.
func (s *Store) ClaimDeliveries(ctx context.Context, limit int) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, `-- name: DeliveryClaim :many
UPDATE webhook_deliveries d
SET status = 'sending', attempts = d.attempts + 1, updated_at = now()
FROM realm_webhooks w JOIN realms r ON r.id = w.realm_id
WHERE w.id = d.webhook_id AND (d.webhook_id, d.event_id) IN (
    SELECT webhook_id, event_id FROM webhook_deliveries
    WHERE status = 'pending' AND next_at <= now() ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING d.webhook_id, d.event_id, w.url, w.secret, r.name, d.body, d.attempts`, limit)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Delivery])
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// SettleDelivery records a claimed delivery's outcome: sent; or, when
// retryIn > 0, pending again after retryIn; else failed for good.
func (s *Store) SettleDelivery(ctx context.Context, d Delivery, sent bool, retryIn time.Duration, detail string) error {
	status := "sent"
	switch {
	case sent:
	case retryIn > 0:
		status = "pending"
	default:
		status = "failed"
	}
	if len(detail) > 1000 {
		detail = detail[:1000]
	}
	_, err := s.pool.Exec(ctx, `-- name: DeliverySettle :exec
UPDATE webhook_deliveries
SET status = $3, detail = $4, next_at = now() + make_interval(secs => $5), updated_at = now()
WHERE webhook_id = $1 AND event_id = $2 AND status = 'sending'`,
		d.WebhookID, d.EventID, status, strings.ToValidUTF8(detail, "?"), retryIn.Seconds())
	if err != nil {
		return fmt.Errorf("record delivery of notice %d to webhook %d: %w", d.EventID, d.WebhookID, err)
	}
	return nil
}

// ReleaseStaleDeliveries puts back deliveries claimed more than olderThan
// ago and never settled (their notifier died mid-POST), and returns how
// many. Such a POST may have reached the webhook: receivers that must not
// see a notice twice use its job id.
func (s *Store) ReleaseStaleDeliveries(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `-- name: DeliveryReleaseStale :exec
UPDATE webhook_deliveries SET status = 'pending', next_at = now(), updated_at = now()
WHERE status = 'sending' AND updated_at < now() - make_interval(secs => $1)`, olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("release stale webhook deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PruneDeliveries deletes the sent and failed deliveries settled more than
// olderThan ago (the queue would otherwise keep a row per notice and
// webhook forever), and returns how many.
func (s *Store) PruneDeliveries(ctx context.Context, olderThan time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `-- name: DeliveryPrune :exec
DELETE FROM webhook_deliveries
WHERE status IN ('sent', 'failed') AND updated_at < now() - make_interval(secs => $1)`, olderThan.Seconds())
	if err != nil {
		return 0, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// NextDeliveryIn is how long until the earliest pending delivery is due (0
// when one is due now), and false when none is pending.
func (s *Store) NextDeliveryIn(ctx context.Context) (time.Duration, bool, error) {
	var secs *float64
	err := s.pool.QueryRow(ctx, `-- name: DeliveryNextDue :one
SELECT greatest(extract(epoch FROM min(next_at) - now()), 0)::float8
FROM webhook_deliveries WHERE status = 'pending'`).Scan(&secs)
	if err != nil {
		return 0, false, fmt.Errorf("next webhook delivery: %w", err)
	}
	if secs == nil {
		return 0, false, nil
	}
	return time.Duration(*secs * float64(time.Second)), true, nil
}

// DeliveryState is a delivery's status and attempts, for tests and tools.
type DeliveryState struct {
	Status   string
	Attempts int
	Detail   string
}

// NoticeDeliveries returns webhook id -> state of one notice's deliveries.
func (s *Store) NoticeDeliveries(ctx context.Context, eventID int64) (map[int64]DeliveryState, error) {
	rows, err := s.pool.Query(ctx, `-- name: DeliveryStates :many
SELECT webhook_id, status, attempts, detail FROM webhook_deliveries WHERE event_id = $1`, eventID)
	if err != nil {
		return nil, fmt.Errorf("deliveries of notice %d: %w", eventID, err)
	}
	defer rows.Close()
	out := map[int64]DeliveryState{}
	for rows.Next() {
		var id int64
		var d DeliveryState
		if err := rows.Scan(&id, &d.Status, &d.Attempts, &d.Detail); err != nil {
			return nil, fmt.Errorf("deliveries of notice %d: %w", eventID, err)
		}
		out[id] = d
	}
	return out, rows.Err()
}
