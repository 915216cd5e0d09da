package web

import (
	"net/http"
	"time"
)

type dashboardPage struct {
	Jobs     []countRow // active states
	Today    []countRow // finished today by health
	Devices  []countRow // "state/health"
	Workers  []countRow
	Hours    []bar
	MaxHour  int64
	Failures []jobRow
}

// bar is one column of an SVG bar chart, laid out by the handler so the
// template only prints numbers.
type bar struct {
	X, W, HTotal, HBad, YTotal, YBad int
	Label                            string
	Total, Bad                       int64
}

const chartHeight = 100

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := dashboardPage{}
	var err error
	fail := func(e error) bool {
		if e != nil {
			s.serverError(w, r, e)
			return true
		}
		return false
	}
	// Active states go through the (state, id) index, never the whole table.
	p.Jobs, err = s.counts(ctx, `SELECT state, count(*) FROM jobs WHERE realm_id = $1
AND state IN ('Submitted', 'Scheduling', 'Scheduled', 'Running', 'Canceling') GROUP BY state ORDER BY state`, s.realm(r))
	if fail(err) {
		return
	}
	p.Today, err = s.counts(ctx, `SELECT health, count(*) FROM jobs WHERE realm_id = $1
AND end_time >= date_trunc('day', now()) GROUP BY health ORDER BY health`, s.realm(r))
	if fail(err) {
		return
	}
	p.Devices, err = s.counts(ctx, `SELECT state || ' / ' || health, count(*) FROM devices WHERE realm_id = $1
GROUP BY state, health ORDER BY state, health`, s.realm(r))
	if fail(err) {
		return
	}
	p.Workers, err = s.counts(ctx, `SELECT state || ' / ' || health, count(*) FROM workers WHERE realm_id = $1
GROUP BY state, health ORDER BY state, health`, s.realm(r))
	if fail(err) {
		return
	}
	hours, err := s.hourly(ctx, s.realm(r))
	if fail(err) {
		return
	}
	p.Hours, p.MaxHour = layoutBars(hours)
	p.Failures, err = s.recentFailures(r)
	if fail(err) {
		return
	}
	s.render(w, r, "dashboard.html", "Dashboard", p)
}

func layoutBars(hours []hourBucket) ([]bar, int64) {
	var max int64 = 1
	for _, h := range hours {
		if h.Total > max {
			max = h.Total
		}
	}
	out := make([]bar, len(hours))
	for i, h := range hours {
		ht := int(h.Total * chartHeight / max)
		hb := int(h.Bad * chartHeight / max)
		out[i] = bar{X: i * 20, W: 16, HTotal: ht, HBad: hb, YTotal: chartHeight - ht, YBad: chartHeight - hb,
			Label: h.Hour.UTC().Format("15:04"), Total: h.Total, Bad: h.Bad}
	}
	return out, max
}

func (s *Server) recentFailures(r *http.Request) ([]jobRow, error) {
	args := []any{s.realm(r), time.Now().Add(-24 * time.Hour)}
	arg := func(v any) string { args = append(args, v); return "$" + itoa(len(args)) }
	q := jobRowSelect + ` WHERE j.realm_id = $1 AND j.end_time >= $2 AND j.health = 'Incomplete' AND ` +
		visibleCond(currentUser(r), arg) + ` ORDER BY j.end_time DESC LIMIT 10`
	return s.scanJobRows(r.Context(), q, args...)
}
