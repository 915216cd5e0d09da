-- +goose Up
-- Realm notices (issue 10): a job reaching Finished writes a 'notice' event
-- in the outbox, published on <prefix>[.<realm>].notice and POSTed to each
-- webhook of the job's realm.
ALTER TABLE events DROP CONSTRAINT events_topic_check,
    ADD CONSTRAINT events_topic_check CHECK (topic IN ('testjob', 'device', 'worker', 'event', 'notice'));

-- secret, when not empty, keys the HMAC-SHA256 signature of each body.
CREATE TABLE realm_webhooks (
    id         bigserial PRIMARY KEY,
    realm_id   bigint NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    url        text NOT NULL CHECK (url ~ '^https?://'),
    secret     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (realm_id, url)
);

-- One row per notice and webhook: the durable queue of server/notify. A
-- delivery is claimed ('sending') before the POST and settled after it, so
-- a restart neither loses a notice nor sends a delivered one again; a
-- failed POST goes back to 'pending' with a later next_at (back-off).
CREATE TABLE webhook_deliveries (
    webhook_id bigint NOT NULL REFERENCES realm_webhooks(id) ON DELETE CASCADE,
    event_id   bigint NOT NULL,
    body       text NOT NULL,
    status     text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT now(),
    detail     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE realm_webhooks;
DELETE FROM events WHERE topic = 'notice';
ALTER TABLE events DROP CONSTRAINT events_topic_check,
    ADD CONSTRAINT events_topic_check CHECK (topic IN ('testjob', 'device', 'worker', 'event'));
