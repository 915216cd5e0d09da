-- +goose Up
-- Periodic jobs: a cron schedule in a time zone submits its definition as
-- its owner. next_run is when it fires next; the leading scheduler fires a
-- due schedule once and moves next_run past now, so runs missed while no
-- scheduler ran fire once, not once each.
CREATE TABLE periodic_jobs (
    id          bigserial PRIMARY KEY,
    realm_id    bigint NOT NULL REFERENCES realms(id),
    name        text NOT NULL,
    cron        text NOT NULL,
    timezone    text NOT NULL DEFAULT 'UTC',
    definition  text NOT NULL,
    owner_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    enabled     boolean NOT NULL DEFAULT true,
    next_run    timestamptz,
    last_run    timestamptz,
    last_job_id bigint,
    last_error  text NOT NULL DEFAULT '',
    created     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (realm_id, name)
);
CREATE INDEX periodic_jobs_due ON periodic_jobs (realm_id, next_run) WHERE enabled;

-- +goose Down
DROP TABLE periodic_jobs;
