package store_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golava/pkg/logfmt"
	"golava/server/store"
)

func rec(i int, msg string) string {
	return logfmt.Encode(logfmt.Line{DT: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Lvl: "info", Msg: fmt.Sprintf("%d %s", i, msg)})
}

func recs(from, to int, msg string) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, rec(i, msg))
	}
	return out
}

func TestAppendLogDedup(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	steps := []struct {
		name    string
		index   int64
		records []string
		stored  int
	}{
		{"first", 0, recs(0, 3, "a"), 3},
		{"replay after a lost reply", 0, recs(0, 3, "a"), 3},
		{"overlap", 2, recs(2, 5, "a"), 5},
		{"next", 5, recs(5, 6, "a"), 6},
		{"old fully stored", 1, recs(1, 4, "a"), 6},
	}
	for _, s := range steps {
		n, err := b.st.AppendLog(b.ctx, id, s.index, s.records)
		if err != nil || n != len(s.records) {
			t.Fatalf("%s: %d, %v", s.name, n, err)
		}
		lines, err := b.st.ReadLog(b.ctx, id, 0, -1)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(lines, "\n") != strings.Join(recs(0, s.stored, "a"), "\n") {
			t.Errorf("%s: log is\n%s", s.name, strings.Join(lines, "\n"))
		}
	}
	if _, err := b.st.AppendLog(b.ctx, id, 7, recs(7, 8, "a")); !errors.Is(err, store.ErrLogIndex) {
		t.Errorf("index past the end: %v", err)
	}
	if _, err := b.st.AppendLog(b.ctx, id+1000, 0, recs(0, 1, "a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestAppendLogConcurrentReplays(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	batch := recs(0, 50, "same")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.st.AppendLog(b.ctx, id, 0, batch)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	lines, _ := b.st.ReadLog(b.ctx, id, 0, -1)
	if len(lines) != 50 {
		t.Errorf("%d lines stored, want 50", len(lines))
	}
	if n := b.count(t, `SELECT log_lines FROM jobs WHERE id = $1`, id); n != 50 {
		t.Errorf("log_lines = %d", n)
	}
}

func TestReadLogRanges(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	pad := strings.Repeat("x", 300)
	all := recs(0, 3000, pad) // ~1 MB: several chunks
	for i := 0; i < len(all); i += 700 {
		end := min(i+700, len(all))
		if _, err := b.st.AppendLog(b.ctx, id, int64(i), all[i:end]); err != nil {
			t.Fatal(err)
		}
	}
	chunks := b.count(t, `SELECT count(*) FROM log_chunks WHERE job_id = $1`, id)
	if chunks < 4 {
		t.Fatalf("%d chunks for ~1 MB", chunks)
	}
	if n := b.count(t, `SELECT count(*) FROM log_chunks WHERE job_id = $1 AND byte_count > 140000`, id); n != 0 {
		t.Errorf("%d chunks over the target size", n)
	}
	tests := []struct{ start, end int64 }{
		{0, -1}, {0, 1}, {1, 2}, {399, 401}, {1000, 2500}, {2990, -1}, {2999, 3000},
		{2999, 5000}, {3000, -1}, {5000, 6000}, {10, 10}, {20, 10},
	}
	for _, tt := range tests {
		got, err := b.st.ReadLog(b.ctx, id, tt.start, tt.end)
		if err != nil {
			t.Fatal(err)
		}
		end := tt.end
		if end < 0 || end > 3000 {
			end = 3000
		}
		var want []string
		if tt.start < end {
			want = all[min(tt.start, 3000):end]
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("[%d, %d): %d lines, want %d", tt.start, tt.end, len(got), len(want))
		}
	}
}

func TestAppendLogRefusesBadRecords(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	tests := []struct {
		name    string
		records []string
	}{
		{"too large garbage", []string{rec(0, "ok"), "{" + strings.Repeat("y", store.MaxLogRecord) + "}"}},
		{"newline", []string{"{\"dt\": \"x\",\n\"lvl\": \"info\"}"}},
		{"not a mapping", []string{"hello"}},
		{"bad results line", []string{`{"dt": "2026", "lvl": "results", "msg": {`}},
	}
	for _, tt := range tests {
		_, err := b.st.AppendLog(b.ctx, id, 0, tt.records)
		var le *store.LogError
		if !errors.As(err, &le) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	if n := b.count(t, `SELECT log_lines FROM jobs WHERE id = $1`, id); n != 0 {
		t.Errorf("%d lines stored from refused uploads", n)
	}
}

func TestAppendLogEventsAndResults(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	dt := `"dt": "2026-01-02T03:04:05.000000"`
	records := []string{
		`{` + dt + `, "lvl": "event", "msg": "hello world"}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "0_smoke", "case": " boot ", "result": "pass", "measurement": 12.5, "units": "s", "set": "first", "starttc": 3, "endtc": 4}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "0_smoke", "case": "net", "result": "fail"}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "lava", "case": "job", "result": "pass", "duration": "3.25"}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "0_smoke", "case": "odd", "result": "maybe"}}`,
		`{` + dt + `, "lvl": "results", "msg": {"definition": "0_smoke", "case": "nan", "result": "pass", "measurement": "abc"}}`,
	}
	for range 2 { // the replay must not duplicate results
		if _, err := b.st.AppendLog(b.ctx, id, 0, records); err != nil {
			t.Fatal(err)
		}
	}
	lines, _ := b.st.ReadLog(b.ctx, id, 0, 1)
	if len(lines) != 1 || !strings.Contains(lines[0], `"lvl": "debug"`) || !strings.Contains(lines[0], "hello world") {
		t.Errorf("event line stored as %q", lines)
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE topic = 'event' AND data LIKE '%hello world%'`); n != 1 {
		t.Errorf("%d .event events", n)
	}
	cases, count, err := b.st.TestCases(b.ctx, id, store.ResultFilter{})
	if err != nil || count != 3 || len(cases) != 3 {
		t.Fatalf("cases %+v, %d, %v", cases, count, err)
	}
	c := cases[0]
	if c.Suite != "0_smoke" || c.Name != "boot" || c.Result != "pass" || c.Measurement == nil ||
		*c.Measurement != "12.5000000000" || c.Units != "s" || c.TestSet == nil || *c.TestSet != "first" ||
		c.StartLog == nil || *c.StartLog != 3 || c.EndLog == nil || *c.EndLog != 4 || strings.Contains(c.Metadata, "starttc") {
		t.Errorf("case 0 = %+v", c)
	}
	if c := cases[2]; c.Suite != "lava" || c.Units != "seconds" || *c.Measurement != "3.2500000000" {
		t.Errorf("lava case = %+v", c)
	}
	suites, n, err := b.st.TestSuites(b.ctx, id, 0, 0)
	if err != nil || n != 2 || suites[0].Name != "0_smoke" || suites[1].Name != "lava" {
		t.Errorf("suites %+v %d %v", suites, n, err)
	}
	fails, n, _ := b.st.TestCases(b.ctx, id, store.ResultFilter{Result: "fail", Limit: 10})
	if n != 1 || fails[0].Name != "net" {
		t.Errorf("fail filter: %+v", fails)
	}
}

func TestAppendLogTruncatesHugeRecords(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	huge := rec(1, strings.Repeat("\x01", store.MaxLogRecord/4)) // escaped: 6 bytes each
	records := []string{rec(0, "ok"), huge, rec(2, "after")}
	if n, err := b.st.AppendLog(b.ctx, id, 0, records); err != nil || n != 3 {
		t.Fatalf("%d, %v", n, err)
	}
	if records[1] != huge {
		t.Errorf("the caller's records were modified")
	}
	lines, _ := b.st.ReadLog(b.ctx, id, 0, -1)
	if len(lines) != 3 || !strings.Contains(lines[1], `"msg": "<line way too long ...>"`) || !strings.Contains(lines[1], `"lvl": "info"`) || lines[2] != rec(2, "after") {
		t.Errorf("stored %d lines: %.200q", len(lines), lines)
	}
}

// Records as LAVA 2023.01's lava-run writes them (lava_common.log.dump):
// PyYAML escapes and non-specific tags on non-string values.
var lavaRecords = []string{
	`{"dt": "2023-01-10T10:00:00.123456", "lvl": "target", "msg": "a\x01b \xE9\n\"x\""}`,
	`{"dt": "2023-01-10T10:00:00.123456", "lvl": "results", "msg": {"case": "boot", "definition": "0_smoke", "endtc": ! "5", "extra": {"a": [! "1", ! "true", ! "null"]}, "level": "1.1", "measurement": ! "1.5", "result": "pass", "starttc": ! "3", "units": "s"}}`,
	`{"dt": "2023-01-10T10:00:00.123456", "lvl": "event", "msg": "caf\xE9"}`,
	`{"dt": "2023-01-10T10:00:00.123456", "lvl": "results", "msg": {"case": "job", "definition": "lava", "duration": "1.23", "result": "pass"}}`,
}

func TestAppendLogLAVARecords(t *testing.T) {
	t.Parallel()
	b := setupJobs(t)
	id := b.submit(t, b.alice, testJob)[0]
	if _, err := b.st.AppendLog(b.ctx, id, 0, lavaRecords); err != nil {
		t.Fatal(err)
	}
	lines, _ := b.st.ReadLog(b.ctx, id, 0, -1)
	if len(lines) != 4 || lines[0] != lavaRecords[0] || !strings.Contains(lines[2], `"lvl": "debug"`) || !strings.Contains(lines[2], "café") {
		t.Errorf("stored %q", lines)
	}
	if n := b.count(t, `SELECT count(*) FROM events WHERE topic = 'event' AND data LIKE '%caf%'`); n != 1 {
		t.Errorf("%d events", n)
	}
	cases, _, err := b.st.TestCases(b.ctx, id, store.ResultFilter{})
	if err != nil || len(cases) != 2 {
		t.Fatalf("cases %+v %v", cases, err)
	}
	c := cases[0]
	if c.Name != "boot" || *c.Measurement != "1.5000000000" || c.StartLog == nil || *c.StartLog != 3 || *c.EndLog != 5 {
		t.Errorf("case = %+v", c)
	}
	if c := cases[1]; c.Suite != "lava" || *c.Measurement != "1.2300000000" {
		t.Errorf("lava case = %+v", c)
	}
}
