package web_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The log_first_error trigger (migration 00030) must find the first error
// or exception line whether it arrives in a new chunk (INSERT) or appended
// to the last one (UPDATE), and ignore lines that only mention errors.
func TestFirstErrorTrigger(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := strings.Repeat("x", 3000) // 50 records fill a 128 KiB chunk
	tests := []struct {
		name    string
		uploads [][]string // records per upload
		want    int64      // 0-based line; -1: none
	}{
		{"none", [][]string{{logRecord("info", "ok"), logRecord("debug", `"lvl": "error" in a message`)}}, -1},
		{"first upload", [][]string{{logRecord("info", "a"), logRecord("error", "e1"), logRecord("error", "e2")}}, 1},
		{"appended", [][]string{{logRecord("info", "a"), logRecord("info", "b")}, {logRecord("info", "c"), logRecord("exception", "x")}}, 3},
		{"exception before error", [][]string{{logRecord("exception", "x"), logRecord("error", "e")}}, 0},
		{"kept after later errors", [][]string{{logRecord("error", "e")}, {logRecord("error", "later")}}, 0},
		{"in a new chunk", [][]string{repeatRecords(60, big), {logRecord("info", "y"), logRecord("error", "late")}}, 61},
	}
	for _, tc := range tests {
		id := f.submit(f.user, tc.name, "public")
		var n int64
		for _, up := range tc.uploads {
			if _, err := f.st.AppendLog(f.ctx, id, n, up); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			n += int64(len(up))
		}
		var line int64 = -1
		err := f.st.Pool().QueryRow(f.ctx, `SELECT line FROM log_first_error WHERE job_id = $1`, id).Scan(&line)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		if line != tc.want {
			t.Errorf("%s: first error at %d, want %d", tc.name, line, tc.want)
		}
		if tc.want >= 0 {
			lines, err := f.st.ReadLog(f.ctx, id, line, line+1)
			if err != nil || len(lines) != 1 || !(strings.Contains(lines[0], `"lvl": "error"`) || strings.Contains(lines[0], `"lvl": "exception"`)) {
				t.Errorf("%s: line %d is %q (%v)", tc.name, line, lines, err)
			}
		}
	}
}

func repeatRecords(n int, msg string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = logRecord("debug", msg)
	}
	return out
}

func TestDashboardCountsAndChart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.submit(f.user, "ended now", "public")
	if _, err := f.st.Pool().Exec(f.ctx, `UPDATE jobs SET state = 'Finished', health = 'Incomplete', end_time = now() WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	f.submit(f.user, "queued", "public")
	b := f.browser()
	_, body := b.get("/")
	mustContain(t, body, "<td>Submitted</td><td class=\"num\">1</td>", "<td>Incomplete</td><td class=\"num\">1</td>",
		"1 finished, 1 incomplete", "ended now", "<td>Idle / Unknown</td>")
}
