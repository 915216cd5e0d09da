-- +goose Up
-- Job notifications (notify blocks): one row per job, state reached and
-- recipient or callback, claimed before sending so that a restart or a
-- second notifier never sends twice; status records the outcome.
CREATE TABLE job_notifications (
    job_id     bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    state      text NOT NULL,
    target     text NOT NULL, -- "email:<address>" or "callback:<n>:<url>"
    status     text NOT NULL DEFAULT 'sending' CHECK (status IN ('sending', 'sent', 'failed')),
    attempts   integer NOT NULL DEFAULT 0,
    detail     text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, state, target)
);

-- Where the notifier stopped reading the event outbox, per realm name.
CREATE TABLE notify_cursor (
    name     text PRIMARY KEY,
    event_id bigint NOT NULL
);

-- +goose Down
DROP TABLE notify_cursor;
DROP TABLE job_notifications;
