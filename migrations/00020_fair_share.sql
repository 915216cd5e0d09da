-- +goose Up
-- Fair share between groups (golava's addition to LAVA): the admin gives a
-- group a weight; among queued jobs of the same priority, the scheduler
-- serves each weighted group in proportion to its weight, counting the jobs
-- it already runs, so a group that floods the queue cannot starve another.
-- A job belongs to the weighted group of its submitter with the lowest id;
-- jobs of submitters in no weighted group share the default weight 1.
CREATE TABLE fair_share (
    realm_id bigint NOT NULL REFERENCES realms(id),
    group_id bigint NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    weight   double precision NOT NULL CHECK (weight > 0 AND weight <= 1000000),
    PRIMARY KEY (realm_id, group_id)
);

-- +goose Down
DROP TABLE fair_share;
