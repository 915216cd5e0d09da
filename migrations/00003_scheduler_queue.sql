-- +goose Up
-- The scheduler reads the head of the queue of each device type (priority,
-- then age); this index makes that a short index scan per type instead of a
-- sort of the whole queue.
CREATE INDEX jobs_queue_type ON jobs (realm_id, requested_device_type_id, priority DESC, id)
    WHERE state = 'Submitted';

-- +goose Down
DROP INDEX jobs_queue_type;
