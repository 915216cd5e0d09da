-- +goose Up
-- Every table whose rows belong to one lab carries realm_id; realm 1 is "default".
CREATE TABLE realms (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]*$'),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO realms (name, description) VALUES ('default', 'The default realm');

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    email         text NOT NULL DEFAULT '',
    first_name    text NOT NULL DEFAULT '',
    last_name     text NOT NULL DEFAULT '',
    password_hash text NOT NULL DEFAULT '',
    is_superuser  boolean NOT NULL DEFAULT false,
    is_staff      boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    date_joined   timestamptz NOT NULL DEFAULT now(),
    last_login    timestamptz
);

CREATE TABLE groups (
    id   bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

CREATE TABLE user_groups (
    user_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

-- API tokens: only a SHA-256 of the secret is kept.
CREATE TABLE tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    hash        bytea NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_used   timestamptz
);

CREATE TABLE workers (
    id          bigserial PRIMARY KEY,
    realm_id    bigint NOT NULL REFERENCES realms(id),
    hostname    text NOT NULL,
    description text NOT NULL DEFAULT '',
    -- SHA-256 of the worker token; the token itself is shown once.
    token_hash  bytea,
    state       text NOT NULL DEFAULT 'Offline' CHECK (state IN ('Online', 'Offline')),
    health      text NOT NULL DEFAULT 'Active' CHECK (health IN ('Active', 'Maintenance', 'Retired')),
    version     text NOT NULL DEFAULT '',
    last_ping   timestamptz,
    job_limit   integer NOT NULL DEFAULT 0,
    dispatcher_config text NOT NULL DEFAULT '',
    env         text NOT NULL DEFAULT '',
    env_dut     text NOT NULL DEFAULT '',
    UNIQUE (realm_id, hostname)
);

CREATE TABLE device_types (
    id                   bigserial PRIMARY KEY,
    realm_id             bigint NOT NULL REFERENCES realms(id),
    name                 text NOT NULL,
    description          text NOT NULL DEFAULT '',
    display              boolean NOT NULL DEFAULT true,
    health_frequency     integer NOT NULL DEFAULT 24,
    health_denominator   text NOT NULL DEFAULT 'hours' CHECK (health_denominator IN ('hours', 'jobs')),
    disable_health_check boolean NOT NULL DEFAULT false,
    -- An edited template overrides the file of the same name; NULL means use the file.
    template             text,
    health_check         text,
    UNIQUE (realm_id, name)
);

CREATE TABLE aliases (
    id             bigserial PRIMARY KEY,
    realm_id       bigint NOT NULL REFERENCES realms(id),
    name           text NOT NULL,
    device_type_id bigint NOT NULL REFERENCES device_types(id) ON DELETE CASCADE,
    UNIQUE (realm_id, name)
);

CREATE TABLE tags (
    id          bigserial PRIMARY KEY,
    realm_id    bigint NOT NULL REFERENCES realms(id),
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    UNIQUE (realm_id, name)
);

CREATE TABLE jobs (
    id                  bigserial PRIMARY KEY,
    realm_id            bigint NOT NULL REFERENCES realms(id),
    submitter_id        bigint NOT NULL REFERENCES users(id),
    description         text NOT NULL DEFAULT '',
    definition          text NOT NULL,
    original_definition text NOT NULL,
    -- requested_device_type_id is NULL only for a job that asks for one device (target).
    requested_device_type_id bigint REFERENCES device_types(id),
    requested_device_id bigint,
    actual_device_id    bigint,
    priority            integer NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
    visibility          text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'personal', 'group')),
    state               text NOT NULL DEFAULT 'Submitted'
        CHECK (state IN ('Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling', 'Finished')),
    health              text NOT NULL DEFAULT 'Unknown'
        CHECK (health IN ('Unknown', 'Complete', 'Incomplete', 'Canceled')),
    health_check        boolean NOT NULL DEFAULT false,
    is_public           boolean NOT NULL DEFAULT true,
    -- The job token authenticates lava-run and the worker on the worker API.
    token               text NOT NULL,
    submit_time         timestamptz NOT NULL DEFAULT now(),
    start_time          timestamptz,
    end_time            timestamptz,
    last_update         timestamptz NOT NULL DEFAULT now(),
    target_group        text,
    sub_id              text NOT NULL DEFAULT '',
    role                text NOT NULL DEFAULT '',
    failure_comment     text,
    failure_type        text NOT NULL DEFAULT '',
    pipeline_description text,
    log_lines           bigint NOT NULL DEFAULT 0,
    log_bytes           bigint NOT NULL DEFAULT 0
);
CREATE INDEX jobs_queue ON jobs (realm_id, priority DESC, id) WHERE state = 'Submitted';
CREATE INDEX jobs_active_device ON jobs (actual_device_id) WHERE state IN ('Scheduled', 'Running', 'Canceling');
CREATE INDEX jobs_state_id ON jobs (state, id);
CREATE INDEX jobs_submitter ON jobs (submitter_id, id);
CREATE INDEX jobs_target_group ON jobs (target_group) WHERE target_group IS NOT NULL;

CREATE TABLE devices (
    id             bigserial PRIMARY KEY,
    realm_id       bigint NOT NULL REFERENCES realms(id),
    hostname       text NOT NULL,
    device_type_id bigint NOT NULL REFERENCES device_types(id),
    worker_id      bigint REFERENCES workers(id) ON DELETE SET NULL,
    description    text NOT NULL DEFAULT '',
    state          text NOT NULL DEFAULT 'Idle' CHECK (state IN ('Idle', 'Reserved', 'Running')),
    health         text NOT NULL DEFAULT 'Unknown'
        CHECK (health IN ('Good', 'Unknown', 'Looping', 'Bad', 'Maintenance', 'Retired')),
    dictionary     text NOT NULL DEFAULT '',
    is_public      boolean NOT NULL DEFAULT true,
    last_health_report_job_id bigint REFERENCES jobs(id) ON DELETE SET NULL,
    UNIQUE (realm_id, hostname)
);
ALTER TABLE jobs ADD FOREIGN KEY (requested_device_id) REFERENCES devices(id);
ALTER TABLE jobs ADD FOREIGN KEY (actual_device_id) REFERENCES devices(id);
CREATE INDEX devices_type ON devices (device_type_id);
CREATE INDEX devices_worker ON devices (worker_id);

CREATE TABLE device_tags (
    device_id bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    tag_id    bigint NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (device_id, tag_id)
);

CREATE TABLE job_tags (
    job_id bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    tag_id bigint NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, tag_id)
);

-- Logs are stored in chunks of consecutive lines so that reading line N is one
-- index lookup however long the log is. Lines are the YAML records without "- ".
CREATE TABLE log_chunks (
    job_id     bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    first_line bigint NOT NULL,
    line_count integer NOT NULL,
    byte_count integer NOT NULL,
    data       bytea NOT NULL,
    PRIMARY KEY (job_id, first_line)
);

CREATE TABLE test_suites (
    id     bigserial PRIMARY KEY,
    job_id bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    name   text NOT NULL,
    UNIQUE (job_id, name)
);

CREATE TABLE test_sets (
    id       bigserial PRIMARY KEY,
    suite_id bigint NOT NULL REFERENCES test_suites(id) ON DELETE CASCADE,
    name     text NOT NULL,
    UNIQUE (suite_id, name)
);

CREATE TABLE test_cases (
    id          bigserial PRIMARY KEY,
    suite_id    bigint NOT NULL REFERENCES test_suites(id) ON DELETE CASCADE,
    test_set_id bigint REFERENCES test_sets(id) ON DELETE CASCADE,
    name        text NOT NULL,
    result      text NOT NULL CHECK (result IN ('pass', 'fail', 'skip', 'unknown')),
    measurement numeric,
    units       text NOT NULL DEFAULT '',
    metadata    text NOT NULL DEFAULT '',
    logged      timestamptz NOT NULL DEFAULT now(),
    start_log_line bigint,
    end_log_line   bigint
);
CREATE INDEX test_cases_suite ON test_cases (suite_id, id);

-- Outbox of events: written in the transaction that makes the change, read in
-- id order by the publisher. data is JSON text, kept as text to keep key order.
CREATE TABLE events (
    id         bigserial PRIMARY KEY,
    realm_id   bigint NOT NULL REFERENCES realms(id),
    topic      text NOT NULL CHECK (topic IN ('testjob', 'device', 'worker', 'event')),
    uuid       uuid NOT NULL DEFAULT gen_random_uuid(),
    username   text NOT NULL,
    data       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created ON events (created_at);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- +goose Down
DROP TABLE settings, events, test_cases, test_sets, test_suites, log_chunks, job_tags,
    device_tags, devices, jobs, tags, aliases, device_types, workers, tokens, user_groups,
    groups, users, realms CASCADE;
