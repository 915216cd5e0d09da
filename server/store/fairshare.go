package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Fair share between groups (migrations/00020_fair_share.sql): the weights
// the admin sets, and what a scheduling pass reads of them.

// SchedShare is a weighted group as a pass sees it.
type SchedShare struct {
	Weight float64
	// Running counts its jobs Scheduled, Running or Canceling now.
	Running int
}

// FairShare is one weighted group for the admin views.
type FairShare struct {
	Group   string  `json:"group"`
	Weight  float64 `json:"weight"`
	Running int     `json:"running"`
	Queued  int     `json:"queued"`
}

// shareOfSQL is the weighted group of job j's submitter (lowest id), or NULL.
const shareOfSQL = `(SELECT min(fs.group_id) FROM user_groups ug
    JOIN fair_share fs ON fs.group_id = ug.group_id AND fs.realm_id = j.realm_id
    WHERE ug.user_id = j.submitter_id)`

// SetFairShare gives group a weight in the realm; weight 0 removes it.
func (s *Store) SetFairShare(ctx context.Context, realmID int64, group string, weight float64) error {
	if weight < 0 || weight > 1e6 {
		return fmt.Errorf("fair share of %q: weight %v is not between 0 and 1000000: %w", group, weight, ErrInvalidFilter)
	}
	var gid int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM groups WHERE name = $1`, group).Scan(&gid); err != nil {
		return notFound(err, "group %q", group)
	}
	var err error
	if weight == 0 {
		_, err = s.pool.Exec(ctx, `DELETE FROM fair_share WHERE realm_id = $1 AND group_id = $2`, realmID, gid)
	} else {
		_, err = s.pool.Exec(ctx, `INSERT INTO fair_share (realm_id, group_id, weight) VALUES ($1, $2, $3)
ON CONFLICT (realm_id, group_id) DO UPDATE SET weight = EXCLUDED.weight`, realmID, gid, weight)
	}
	if err != nil {
		return fmt.Errorf("set fair share of %q: %w", group, err)
	}
	return nil
}

// ListFairShare returns the weighted groups with their running and queued jobs.
func (s *Store) ListFairShare(ctx context.Context, realmID int64) ([]FairShare, error) {
	rows, err := s.pool.Query(ctx, `SELECT g.name, fs.weight,
    (SELECT count(*) FROM jobs j WHERE j.realm_id = $1 AND j.state IN ('Scheduled', 'Running', 'Canceling')
        AND `+shareOfSQL+` = fs.group_id),
    (SELECT count(*) FROM jobs j WHERE j.realm_id = $1 AND j.state = 'Submitted' AND `+shareOfSQL+` = fs.group_id)
FROM fair_share fs JOIN groups g ON g.id = fs.group_id WHERE fs.realm_id = $1 ORDER BY g.name`, realmID)
	if err != nil {
		return nil, fmt.Errorf("list fair share: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FairShare, error) {
		var f FairShare
		err := r.Scan(&f.Group, &f.Weight, &f.Running, &f.Queued)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list fair share: %w", err)
	}
	return out, nil
}

// The queue window reads the head of each type's queue; with fair share,
// the head of each weighted group's part of it is read too, so that a
// group flooding the queue does not hide another group's jobs.
const schedShareWindowSQL = `-- name: SchedulerShareWindow :many
WITH idle AS (
    SELECT device_type_id, count(*) AS n FROM devices
    WHERE realm_id = $1 AND state = 'Idle' AND health IN ('Good', 'Unknown', 'Looping')
    GROUP BY device_type_id
)
SELECT ` + schedJobColumns + `
FROM idle CROSS JOIN (SELECT group_id FROM fair_share WHERE realm_id = $1) fs CROSS JOIN LATERAL (
    SELECT * FROM jobs j
    WHERE j.realm_id = $1 AND j.state = 'Submitted' AND j.requested_device_type_id = idle.device_type_id
      AND j.submitter_id IN (SELECT user_id FROM user_groups WHERE group_id = fs.group_id)
      AND NOT j.id = ANY($3::bigint[])
    ORDER BY j.priority DESC, j.id
    LIMIT greatest($2, 4 * idle.n)) j`

// loadShareWindow reads the weights and, when there are some, the extra
// window of each weighted group; it must run before groups and tags load.
func loadShareWindow(ctx context.Context, tx pgx.Tx, realmID int64, window int, st *SchedulerState) error {
	rows, err := tx.Query(ctx, `SELECT group_id, weight FROM fair_share WHERE realm_id = $1`, realmID)
	if err != nil {
		return fmt.Errorf("read fair share: %w", err)
	}
	var gid int64
	var w float64
	_, err = pgx.ForEachRow(rows, []any{&gid, &w}, func() error {
		if st.Shares == nil {
			st.Shares = map[int64]SchedShare{}
		}
		st.Shares[gid] = SchedShare{Weight: w}
		return nil
	})
	if err != nil || len(st.Shares) == 0 {
		return err
	}
	ids := make([]int64, len(st.Jobs))
	for i, j := range st.Jobs {
		ids[i] = j.ID
	}
	extra := &SchedulerState{}
	if err := scanSchedJobs(ctx, tx, extra, schedShareWindowSQL, realmID, window, ids); err != nil {
		return fmt.Errorf("read fair-share window: %w", err)
	}
	seen := make(map[int64]bool, len(extra.Jobs))
	for _, j := range extra.Jobs {
		if !seen[j.ID] { // a submitter in two weighted groups shows up twice
			seen[j.ID] = true
			st.Jobs = append(st.Jobs, j)
		}
	}
	return nil
}

// loadShares sets each queued job's weighted group and counts each group's
// running jobs; nothing is read when no group is weighted.
func loadShares(ctx context.Context, tx pgx.Tx, realmID int64, st *SchedulerState) error {
	if len(st.Shares) == 0 || len(st.Jobs) == 0 {
		return nil
	}
	index := make(map[int64]int, len(st.Jobs))
	ids := make([]int64, len(st.Jobs))
	for i, j := range st.Jobs {
		ids[i], index[j.ID] = j.ID, i
	}
	rows, err := tx.Query(ctx, `SELECT j.id, `+shareOfSQL+` FROM jobs j WHERE j.id = ANY($1::bigint[])`, ids)
	if err != nil {
		return fmt.Errorf("read job shares: %w", err)
	}
	var id int64
	var g *int64
	_, err = pgx.ForEachRow(rows, []any{&id, &g}, func() error {
		if g != nil {
			st.Jobs[index[id]].Share = *g
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read job shares: %w", err)
	}
	// Group 0 is the jobs of submitters in no weighted group (weight 1).
	rows, err = tx.Query(ctx, `SELECT coalesce(s.g, 0), count(*) FROM (SELECT `+shareOfSQL+` AS g FROM jobs j
    WHERE j.realm_id = $1 AND j.state IN ('Scheduled', 'Running', 'Canceling')) s
GROUP BY 1`, realmID)
	if err != nil {
		return fmt.Errorf("count running shares: %w", err)
	}
	var gid int64
	var n int
	_, err = pgx.ForEachRow(rows, []any{&gid, &n}, func() error {
		sh, ok := st.Shares[gid]
		if !ok && gid != 0 {
			return nil
		}
		if gid == 0 {
			sh.Weight = 1
		}
		sh.Running = n
		st.Shares[gid] = sh
		return nil
	})
	if err != nil {
		return fmt.Errorf("count running shares: %w", err)
	}
	return nil
}
