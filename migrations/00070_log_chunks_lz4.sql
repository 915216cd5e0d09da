-- +goose Up
-- Log chunks are rewritten as lines are appended; lz4 compresses them at a
-- fraction of pglz's CPU cost, which bounded log ingest.
ALTER TABLE log_chunks ALTER COLUMN data SET COMPRESSION lz4;

-- +goose Down
ALTER TABLE log_chunks ALTER COLUMN data SET COMPRESSION pglz;
