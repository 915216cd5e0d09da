-- +goose Up
-- Web UI sessions: only a SHA-256 of the session id is kept; csrf is the
-- per-session token every form posts back.
CREATE TABLE web_sessions (
    id_hash    bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The job list filters by requested device type and health in id order,
-- and the dashboard counts jobs that ended recently.
CREATE INDEX jobs_type_id ON jobs (requested_device_type_id, id);
CREATE INDEX jobs_health_id ON jobs (health, id);
CREATE INDEX jobs_end_time ON jobs (end_time) WHERE end_time IS NOT NULL;
CREATE INDEX jobs_device_id ON jobs (actual_device_id, id) WHERE actual_device_id IS NOT NULL;

-- The first error (or exception) line of each job's log, kept as chunks are
-- written so the log viewer jumps to it without reading the log. Only the
-- bytes a write appends are searched.
CREATE TABLE log_first_error (
    job_id bigint PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    line   bigint NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION log_first_error_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    part  bytea;
    base  bigint;
    p     int;
    q     int;
    txt   text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.byte_count <= OLD.byte_count THEN
            RETURN NULL;
        END IF;
        part := substring(NEW.data FROM OLD.byte_count + 1);
        base := NEW.first_line + OLD.line_count;
    ELSE
        part := NEW.data;
        base := NEW.first_line;
    END IF;
    p := position('"lvl": "error"'::bytea IN part);
    q := position('"lvl": "exception"'::bytea IN part);
    IF p = 0 OR (q > 0 AND q < p) THEN
        p := q;
    END IF;
    IF p = 0 OR EXISTS (SELECT 1 FROM log_first_error WHERE job_id = NEW.job_id) THEN
        RETURN NULL;
    END IF;
    -- LATIN1 maps every byte to one character, so counting newlines in the
    -- converted text counts them in the bytes.
    txt := convert_from(substring(part FOR p - 1), 'LATIN1');
    INSERT INTO log_first_error (job_id, line)
    VALUES (NEW.job_id, base + length(txt) - length(replace(txt, E'\n', '')))
    ON CONFLICT (job_id) DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER log_first_error_track AFTER INSERT OR UPDATE OF data ON log_chunks
    FOR EACH ROW EXECUTE FUNCTION log_first_error_track();

-- +goose Down
DROP TRIGGER log_first_error_track ON log_chunks;
DROP FUNCTION log_first_error_track();
DROP TABLE log_first_error;
DROP INDEX jobs_device_id, jobs_end_time, jobs_health_id, jobs_type_id;
DROP TABLE web_sessions;
