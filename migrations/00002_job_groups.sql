-- +goose Up
-- A job with visibility "group" is visible to members of every listed group
-- (LAVA's TestJob.viewing_groups).
CREATE TABLE job_viewing_groups (
    job_id   bigint NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, group_id)
);
CREATE INDEX job_viewing_groups_group ON job_viewing_groups (group_id);

-- The whole submission of a MultiNode group (LAVA's multinode_definition);
-- definition then holds the sub-job's own split document.
ALTER TABLE jobs ADD COLUMN multinode_definition text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN multinode_definition;
DROP TABLE job_viewing_groups;
