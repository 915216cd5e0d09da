package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"golava/pkg/logfmt"
	"golava/server/store"
)

// The log viewer reads only the lines it shows: a page is one index lookup
// in log_chunks (StreamLog), the end is known from jobs.log_lines and the
// first error from log_first_error (kept by a trigger as chunks are
// written), so a 1 GB log costs the same as a small one.

const (
	// maxShownMsg is the longest message shown in full; longer ones are cut.
	maxShownMsg = 8 << 10
	// maxPageBytes bounds one page of log HTML whatever the line sizes.
	maxPageBytes = 4 << 20
)

var (
	startRE = regexp.MustCompile(`^start: ([0-9.]+) (\S+)`)
	endRE   = regexp.MustCompile(`^end: ([0-9.]+) (\S+)`)
)

// logLevels are the levels the filter offers, in LAVA's order.
var logLevels = []string{logfmt.LevelDebug, logfmt.LevelInfo, logfmt.LevelWarning, logfmt.LevelError,
	logfmt.LevelException, logfmt.LevelResults, logfmt.LevelTarget, logfmt.LevelInput, logfmt.LevelFeedback, logfmt.LevelEvent}

// logPage is a rendered slice of the log.
type logPage struct {
	Start, End, Total int64
	HTML              template.HTML
}

// renderLog reads lines [start, end) and renders them with one collapsible
// <details> per action (LAVA's "start: N name" ... "end: N name" lines).
func (s *Server) renderLog(ctx context.Context, jobID, start, end int64) (logPage, error) {
	var b strings.Builder
	n := start
	depth := 0
	errFull := errors.New("page full")
	err := s.st.StreamLog(ctx, jobID, start, end, func(line []byte) error {
		if b.Len() > maxPageBytes {
			return errFull
		}
		writeLogLine(&b, n, line, &depth)
		n++
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return logPage{}, err
	}
	for ; depth > 0; depth-- {
		b.WriteString("</div></details>")
	}
	return logPage{Start: start, End: n, HTML: template.HTML(b.String())}, nil
}

func writeLogLine(b *strings.Builder, n int64, raw []byte, depth *int) {
	lvl, dt, msg := "unknown", "", ""
	if l, err := logfmt.Decode(string(raw)); err == nil {
		lvl, dt = l.Lvl, l.DT.Format("15:04:05.000")
		switch m := l.Msg.(type) {
		case string:
			msg = m
		default:
			j, _ := json.Marshal(m)
			msg = string(j)
		}
		if l.NS != "" {
			msg = "[" + l.NS + "] " + msg
		}
	} else {
		msg = string(raw)
	}
	if len(msg) > maxShownMsg {
		msg = msg[:maxShownMsg] + fmt.Sprintf(" … (%d bytes cut)", len(msg)-maxShownMsg)
	}
	id := strconv.FormatInt(n+1, 10) // lines are numbered from 1, as LAVA
	// LAVA logs top-level actions' start/end at info, nested ones at debug.
	marker := lvl == logfmt.LevelInfo || lvl == logfmt.LevelDebug
	isStart := marker && startRE.MatchString(msg)
	// A section's first line is its <summary>, which is itself the control:
	// no link inside it, and phrasing content only.
	tag, num := "div", `<a class="n" href="#L`+id+`">`+id+`</a>`
	if isStart {
		tag, num = "span", `<span class="n">`+id+`</span>`
	}
	row := "<" + tag + ` class="l lvl-` + html.EscapeString(lvl) + `" id="L` + id + `">` + num +
		`<span class="t">` + dt + `</span><span class="v">` + html.EscapeString(lvl) +
		`</span><span class="m">` + html.EscapeString(msg) + "</span></" + tag + ">"
	switch {
	case isStart:
		*depth++
		b.WriteString(`<details class="sec" open><summary>` + row + `</summary><div class="body">`)
	case marker && endRE.MatchString(msg) && *depth > 0:
		b.WriteString(row)
		b.WriteString("</div></details>")
		*depth--
	default:
		b.WriteString(row)
	}
}

// firstError is the 0-based line of the job's first error, if any.
func (s *Server) firstError(ctx context.Context, jobID int64) (*int64, error) {
	var line int64
	err := s.st.Pool().QueryRow(ctx, `SELECT line FROM log_first_error WHERE job_id = $1`, jobID).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("first error of job %d: %w", jobID, err)
	}
	return &line, nil
}

// logWindow picks the page to show: ?line=N (1-based) shows the page
// holding N, ?log_start=N starts there, default is the last page.
func (s *Server) logWindow(r *http.Request, total int64) (int64, error) {
	page := int64(s.cfg.LogPageLines)
	q := r.URL.Query()
	if v := q.Get("line"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("line must be a positive number")
		}
		return ((n - 1) / page) * page, nil
	}
	if v := q.Get("log_start"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("log_start must be a line number")
		}
		return n, nil
	}
	return max(0, total-page), nil
}

type fragment struct {
	HTML     string `json:"html"`
	Next     int64  `json:"next"`
	Total    int64  `json:"total"`
	State    string `json:"state"`
	Health   string `json:"health"`
	Finished bool   `json:"finished"`
}

// logFragment is what the live viewer polls: the lines from ?start=N (up
// to one page) and the job's state.
func (s *Server) logFragment(w http.ResponseWriter, r *http.Request) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return
	}
	start, err := strconv.ParseInt(r.URL.Query().Get("start"), 10, 64)
	if err != nil || start < 0 {
		http.Error(w, "start must be a line number", http.StatusBadRequest)
		return
	}
	end := min(j.LogLines, start+int64(s.cfg.LogPageLines))
	lp := logPage{Start: start, End: start}
	if end > start {
		if lp, err = s.renderLog(r.Context(), j.ID, start, end); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(fragment{HTML: string(lp.HTML), Next: lp.End, Total: j.LogLines,
		State: j.State, Health: j.Health, Finished: j.State == store.JobFinished})
}
