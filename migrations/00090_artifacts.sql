-- +goose Up
-- Artifact areas per realm (issue 10): the metadata of objects kept by
-- server/artifacts in a filesystem or S3 backend under REALM/AREA/PATH.
-- expires_at is fixed at upload from the realm's payload_days/temp_days
-- (NULL when 0: kept until deleted); the scheduler leader removes rows
-- whose time has passed, object first, so a crash leaves no hidden object.
CREATE TABLE artifacts (
    id          bigserial PRIMARY KEY,
    realm_id    bigint NOT NULL REFERENCES realms(id) ON DELETE CASCADE,
    area        text NOT NULL CHECK (area IN ('payload', 'temp')),
    path        text NOT NULL CHECK (path <> '' AND length(path) <= 1024),
    size        bigint NOT NULL CHECK (size >= 0),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    job_id      bigint REFERENCES jobs(id) ON DELETE SET NULL,
    uploader_id bigint REFERENCES users(id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz,
    UNIQUE (realm_id, area, path)
);
-- Listing by prefix: text_pattern_ops lets LIKE 'prefix%' use the index
-- whatever the database collation.
CREATE INDEX artifacts_prefix ON artifacts (realm_id, area, path text_pattern_ops);
CREATE INDEX artifacts_expiry ON artifacts (expires_at) WHERE expires_at IS NOT NULL;

-- +goose Down
DROP TABLE artifacts;
