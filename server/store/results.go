package store

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"
)

// Results come from "results" log records (LAVA's map_scanned_results):
// msg.definition is the suite, msg.case the test case, msg.result its
// result; the suite "lava" holds lava-run's own results, whose duration is
// the measurement in seconds.

// maxMetadata is LAVA's limit on a test case's metadata text.
const maxMetadata = 4096

var (
	resultValues = map[string]bool{"pass": true, "fail": true, "skip": true, "unknown": true}
	// reDecimal is what both Python's Decimal and PostgreSQL's numeric accept.
	reDecimal = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)
	// reSetName is a test set name that urllib's quote leaves unchanged.
	reSetName = regexp.MustCompile(`^[A-Za-z0-9_.~/-]*$`)
)

// resultWriter creates test cases within one log upload, caching suite and
// set ids.
type resultWriter struct {
	tx     pgx.Tx
	jobID  int64
	suites map[string]int64
	sets   map[[2]string]int64
}

func newResultWriter(tx pgx.Tx, jobID int64) *resultWriter {
	return &resultWriter{tx: tx, jobID: jobID, suites: map[string]int64{}, sets: map[[2]string]int64{}}
}

// add creates the test case of one results record. Records LAVA would drop
// (missing keys, unknown result, bad measurement) are dropped, not errors:
// the upload must go on.
func (w *resultWriter) add(ctx context.Context, msg map[string]any) error {
	start, end := logLineOf(msg["starttc"]), logLineOf(msg["endtc"])
	delete(msg, "starttc")
	delete(msg, "endtc")
	suite, okS := msg["definition"]
	name, okC := msg["case"]
	result, okR := msg["result"].(string)
	if !okS || !okC || !okR || !resultValues[result] {
		return nil
	}
	suiteName, caseName := fmt.Sprint(suite), strings.TrimSpace(fmt.Sprint(name))
	var measurement *string
	units := ""
	if suiteName == "lava" {
		measurement, units = decimalOf(msg["duration"]), ""
		if msg["duration"] != nil {
			units = "seconds"
		}
		start, end = nil, nil
	} else {
		measurement = decimalOf(msg["measurement"])
		if msg["measurement"] != nil && measurement == nil {
			return nil
		}
		if u, ok := msg["units"]; ok {
			units = fmt.Sprint(u)
		}
	}
	suiteID, err := w.suite(ctx, suiteName)
	if err != nil {
		return err
	}
	var setID *int64
	if set, ok := msg["set"]; ok && reSetName.MatchString(fmt.Sprint(set)) {
		id, err := w.set(ctx, suiteID, suiteName, fmt.Sprint(set))
		if err != nil {
			return err
		}
		setID = &id
	}
	_, err = w.tx.Exec(ctx, `INSERT INTO test_cases (suite_id, test_set_id, name, result, measurement,
    units, metadata, start_log_line, end_log_line) VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9)`,
		suiteID, setID, caseName, result, measurement, units, metadataOf(msg), start, end)
	if err != nil {
		return fmt.Errorf("insert test case %s/%s of job %d: %w", suiteName, caseName, w.jobID, err)
	}
	return nil
}

func (w *resultWriter) suite(ctx context.Context, name string) (int64, error) {
	if id, ok := w.suites[name]; ok {
		return id, nil
	}
	var id int64
	err := w.tx.QueryRow(ctx, `INSERT INTO test_suites (job_id, name) VALUES ($1, $2)
ON CONFLICT (job_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, w.jobID, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("suite %q of job %d: %w", name, w.jobID, err)
	}
	w.suites[name] = id
	return id, nil
}

func (w *resultWriter) set(ctx context.Context, suiteID int64, suite, name string) (int64, error) {
	key := [2]string{suite, name}
	if id, ok := w.sets[key]; ok {
		return id, nil
	}
	var id int64
	err := w.tx.QueryRow(ctx, `INSERT INTO test_sets (suite_id, name) VALUES ($1, $2)
ON CONFLICT (suite_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, suiteID, name).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("test set %q of job %d: %w", name, w.jobID, err)
	}
	w.sets[key] = id
	return id, nil
}

// decimalOf returns v as decimal text, or nil when v is absent or not a number.
func decimalOf(v any) *string {
	var s string
	switch x := v.(type) {
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case string:
		s = strings.TrimSpace(x)
	default:
		return nil
	}
	if !reDecimal.MatchString(s) || len(s) > 64 {
		return nil
	}
	// numeric(30,10) as LAVA's DecimalField: larger values are dropped.
	if f, err := strconv.ParseFloat(s, 64); err != nil || math.Abs(f) >= 1e20 {
		return nil
	}
	return &s
}

func logLineOf(v any) *int64 {
	switch x := v.(type) {
	case int64:
		if x >= 0 {
			return &x
		}
	case string:
		if i, err := strconv.ParseInt(x, 10, 64); err == nil && i >= 0 {
			return &i
		}
	}
	return nil
}

// metadataOf dumps the record as YAML, stripped to its keys when too long.
func metadataOf(msg map[string]any) string {
	b, err := yaml.Marshal(msg)
	if err == nil && len(b) <= maxMetadata {
		return string(b)
	}
	stripped := map[string]any{}
	for _, k := range []string{"case", "definition", "result", "error_type"} {
		if v, ok := msg[k]; ok {
			stripped[k] = v
		}
	}
	b, err = yaml.Marshal(stripped)
	if err != nil || len(b) > maxMetadata {
		return ""
	}
	return string(b)
}

// TestSuite is one suite of a job's results.
type TestSuite struct {
	ID    int64
	JobID int64
	Name  string
}

// TestCaseRow is a test case with the ids the REST API shows.
type TestCaseRow struct {
	TestCase
	SuiteID   int64
	TestSetID *int64
}

// ResultFilter selects test cases; zero fields do not filter.
type ResultFilter struct {
	Suite  string
	Result string
	Limit  int // 0: no limit
	Offset int
}

// TestSuites returns a job's suites in creation order, and their count.
func (s *Store) TestSuites(ctx context.Context, jobID int64, limit, offset int) ([]TestSuite, int64, error) {
	var count int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM test_suites WHERE job_id = $1`, jobID).Scan(&count); err != nil {
		return nil, 0, fmt.Errorf("count suites of job %d: %w", jobID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, job_id, name FROM test_suites WHERE job_id = $1
ORDER BY id LIMIT $2 OFFSET $3`, jobID, limitOrAll(limit), offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list suites of job %d: %w", jobID, err)
	}
	suites, err := pgx.CollectRows(rows, pgx.RowToStructByPos[TestSuite])
	if err != nil {
		return nil, 0, fmt.Errorf("list suites of job %d: %w", jobID, err)
	}
	return suites, count, nil
}

func limitOrAll(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// TestCases returns a job's test cases in creation order, and their count.
func (s *Store) TestCases(ctx context.Context, jobID int64, f ResultFilter) ([]TestCaseRow, int64, error) {
	cond := ` FROM test_cases c JOIN test_suites s ON s.id = c.suite_id
LEFT JOIN test_sets ts ON ts.id = c.test_set_id
WHERE s.job_id = $1 AND ($2 = '' OR s.name = $2) AND ($3 = '' OR c.result = $3)`
	var count int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+cond, jobID, f.Suite, f.Result).Scan(&count); err != nil {
		return nil, 0, fmt.Errorf("count test cases of job %d: %w", jobID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT c.id, s.job_id, s.name, ts.name, c.name, c.result,
    c.measurement::numeric(30,10)::text, c.units, c.metadata, c.logged, c.start_log_line,
    c.end_log_line, c.suite_id, c.test_set_id`+cond+` ORDER BY c.id LIMIT $4 OFFSET $5`,
		jobID, f.Suite, f.Result, limitOrAll(f.Limit), f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list test cases of job %d: %w", jobID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TestCaseRow, error) {
		var c TestCaseRow
		err := r.Scan(&c.ID, &c.JobID, &c.Suite, &c.TestSet, &c.Name, &c.Result, &c.Measurement,
			&c.Units, &c.Metadata, &c.Logged, &c.StartLog, &c.EndLog, &c.SuiteID, &c.TestSetID)
		return c, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list test cases of job %d: %w", jobID, err)
	}
	return out, count, nil
}
