-- +goose Up
-- The job list's text filter (description contains) uses a trigram index,
-- so a rare word is found without reading a million rows. pg_trgm ships
-- with PostgreSQL (contrib) and is a trusted extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX jobs_description_trgm ON jobs USING gin (description gin_trgm_ops);

-- +goose Down
DROP INDEX jobs_description_trgm;
