package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"

	"golava/server/store"
)

func (s *Server) resultRoutes(r chi.Router) {
	r.Get("/results/", s.resultsChart)
	r.Get("/results/chart", s.resultsChart)
	r.Get("/results/{id}", s.jobResults)
	r.Get("/results/{id}/{suite}", s.jobResults)
}

var resultValues = []string{"pass", "fail", "skip", "unknown"}

const maxCasesShown = 2000

type resultsPage struct {
	Job     *store.Job
	Suites  []suiteSummary
	Cases   []store.TestCaseRow
	Count   int64
	Suite   string
	Result  string
	Results []string
	Limit   int
}

func (s *Server) jobResults(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	p := resultsPage{Job: j, Suite: chi.URLParam(r, "suite"), Result: r.URL.Query().Get("result"),
		Results: resultValues, Limit: maxCasesShown}
	if p.Suite == "" {
		p.Suite = r.URL.Query().Get("suite")
	}
	if p.Result != "" && !oneOf(p.Result, resultValues) {
		s.badRequest(w, r, "result must be one of pass, fail, skip, unknown")
		return
	}
	var err error
	if p.Suites, err = s.suiteSummaries(r.Context(), j.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	p.Cases, p.Count, err = s.st.TestCases(r.Context(), j.ID, store.ResultFilter{Suite: p.Suite, Result: p.Result, Limit: maxCasesShown})
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "results.html", fmt.Sprintf("Results of job %d", j.ID), p)
}

// point is one measurement of a chart, laid out in SVG units.
type point struct {
	JobID       int64
	Value       string
	Result      string
	X, Y        int
	Measurement float64
}

type chartPage struct {
	Suite, Case, DeviceType string
	Points                  []point
	Polyline                string
	Min, Max                float64
	Searched                bool
}

const (
	chartW = 600
	chartH = 200
)

// resultsChart plots a test case's measurement over the newest jobs that
// recorded it.
func (s *Server) resultsChart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := chartPage{Suite: q.Get("suite"), Case: q.Get("case"), DeviceType: q.Get("device_type")}
	if p.Suite == "" || p.Case == "" {
		s.render(w, r, "chart.html", "Measurements", p)
		return
	}
	p.Searched = true
	args := []any{s.realm(r), p.Suite, p.Case, p.DeviceType}
	arg := func(v any) string { args = append(args, v); return "$" + itoa(len(args)) }
	sql := `SELECT j.id, c.measurement::float8, trim_scale(c.measurement)::text, c.result
FROM test_cases c JOIN test_suites ts ON ts.id = c.suite_id JOIN jobs j ON j.id = ts.job_id
LEFT JOIN device_types dt ON dt.id = j.requested_device_type_id
LEFT JOIN devices d ON d.id = j.actual_device_id
WHERE j.realm_id = $1 AND ts.name = $2 AND c.name = $3 AND c.measurement IS NOT NULL
  AND ($4 = '' OR dt.name = $4) AND ` + visibleCond(currentUser(r), arg) + `
ORDER BY j.id DESC LIMIT 100`
	rows, err := s.st.Pool().Query(r.Context(), sql, args...)
	if err != nil {
		s.serverError(w, r, fmt.Errorf("measurements: %w", err))
		return
	}
	pts, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (point, error) {
		var pt point
		err := row.Scan(&pt.JobID, &pt.Measurement, &pt.Value, &pt.Result)
		return pt, err
	})
	if err != nil {
		s.serverError(w, r, fmt.Errorf("measurements: %w", err))
		return
	}
	// Oldest first, left to right.
	for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
		pts[i], pts[j] = pts[j], pts[i]
	}
	layoutPoints(&p, pts)
	s.render(w, r, "chart.html", "Measurements of "+p.Suite+"/"+p.Case, p)
}

func layoutPoints(p *chartPage, pts []point) {
	if len(pts) == 0 {
		return
	}
	p.Min, p.Max = pts[0].Measurement, pts[0].Measurement
	for _, pt := range pts {
		p.Min, p.Max = min(p.Min, pt.Measurement), max(p.Max, pt.Measurement)
	}
	span := p.Max - p.Min
	if span == 0 {
		span = 1
	}
	step := chartW
	if len(pts) > 1 {
		step = chartW / (len(pts) - 1)
	}
	for i := range pts {
		pts[i].X = i * step
		pts[i].Y = chartH - int((pts[i].Measurement-p.Min)/span*chartH)
		p.Polyline += strconv.Itoa(pts[i].X) + "," + strconv.Itoa(pts[i].Y) + " "
	}
	p.Points = pts
}
