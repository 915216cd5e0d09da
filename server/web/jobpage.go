package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5"

	"golava/server/store"
)

type suiteSummary struct {
	Name                     string
	Pass, Fail, Skip, Unknow int64
}

type jobPage struct {
	Job        *store.Job
	CanChange  bool
	Suites     []suiteSummary
	Log        logPage
	Levels     []string
	FirstError *int64 // 1-based line
	PageLines  int64
	Prev, Next *int64
	LastStart  int64
	Live       bool
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p := jobPage{Job: j, CanChange: canChange(currentUser(r), j), Levels: logLevels,
		PageLines: int64(s.cfg.LogPageLines), Live: j.State != store.JobFinished}
	start, err := s.logWindow(r, j.LogLines)
	if err != nil {
		s.badRequest(w, r, err.Error())
		return
	}
	if p.Log, err = s.renderLog(ctx, j.ID, start, start+p.PageLines); err != nil {
		s.serverError(w, r, err)
		return
	}
	p.Log.Total = j.LogLines
	if start > 0 {
		prev := max(0, start-p.PageLines)
		p.Prev = &prev
	}
	if p.Log.End < j.LogLines {
		next := p.Log.End
		p.Next = &next
	}
	p.LastStart = max(0, j.LogLines-p.PageLines)
	fe, err := s.firstError(ctx, j.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	if fe != nil {
		one := *fe + 1
		p.FirstError = &one
	}
	if p.Suites, err = s.suiteSummaries(ctx, j.ID); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "job.html", fmt.Sprintf("Job %d", j.ID), p)
}

func (s *Server) suiteSummaries(ctx context.Context, jobID int64) ([]suiteSummary, error) {
	rows, err := s.st.Pool().Query(ctx, `SELECT s.name,
    count(c.id) FILTER (WHERE c.result = 'pass'), count(c.id) FILTER (WHERE c.result = 'fail'),
    count(c.id) FILTER (WHERE c.result = 'skip'), count(c.id) FILTER (WHERE c.result = 'unknown')
FROM test_suites s LEFT JOIN test_cases c ON c.suite_id = s.id
WHERE s.job_id = $1 GROUP BY s.id ORDER BY s.id`, jobID)
	if err != nil {
		return nil, fmt.Errorf("suites of job %d: %w", jobID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (suiteSummary, error) {
		var x suiteSummary
		err := r.Scan(&x.Name, &x.Pass, &x.Fail, &x.Skip, &x.Unknow)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("suites of job %d: %w", jobID, err)
	}
	return out, nil
}
