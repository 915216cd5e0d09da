package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"golava/pkg/logfmt"
	"golava/server/store"
	"golava/server/store/storetest"
	"golava/server/web"
)

// BenchmarkWebPages fills a database with a million jobs and one 1 GB log
// (bulk SQL, no per-row round trips), then prints the server-side render
// time of the pages an admin opens most: the job list (first page, a deep
// page, filtered), the job page at the log's last page, at its first error
// and in its middle, and the dashboard. The target is < 200 ms each.
func BenchmarkWebPages(b *testing.B) {
	st := storetest.New(b)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	admin, logJob := fillBenchDB(b, ctx, st)
	ws, err := web.New(st, slog.New(slog.DiscardHandler), web.Config{})
	if err != nil {
		b.Fatal(err)
	}
	h := ws.Handler()
	sessionCookie := benchLogin(b, h, admin)
	pages := []struct{ name, path string }{
		{"job list, first page", "/scheduler/alljobs"},
		{"job list, page at job 500000", "/scheduler/alljobs?before=500000"},
		{"job list, Incomplete on dut-sim", "/scheduler/alljobs?health=Incomplete&device_type=dut-sim"},
		{"job list, text search", "/scheduler/alljobs?text=bench+job+99999"},
		{"job page, last page of 1 GB log", fmt.Sprintf("/scheduler/job/%d", logJob)},
		{"job page, 1 GB log at first error", fmt.Sprintf("/scheduler/job/%d?line=%d", logJob, benchErrorLine)},
		{"job page, 1 GB log middle", fmt.Sprintf("/scheduler/job/%d?line=4000000", logJob)},
		{"log fragment, last 500 lines", fmt.Sprintf("/scheduler/job/%d/log_fragment?start=%d", logJob, benchLogLines-500)},
		{"dashboard", "/"},
	}
	b.ResetTimer()
	for _, viewer := range []string{"anonymous", "admin"} {
		for _, p := range pages {
			var times []time.Duration
			for range 15 {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				if viewer == "admin" {
					req.AddCookie(sessionCookie)
				}
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				times = append(times, time.Since(start))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p.path, rec.Code, rec.Body.String())
				}
			}
			slices.Sort(times)
			fmt.Printf("web render %-9s %-38s p50 %7.1f ms  p99 %7.1f ms  (target < 200 ms)\n", viewer, p.name,
				ms(times[len(times)/2]), ms(times[len(times)-1]))
		}
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const (
	benchJobs       = 1_000_000
	benchChunkLines = 1024
	benchChunks     = 8192 // 8192 chunks of ~128 KiB: 1 GiB
	benchLogLines   = benchChunks * benchChunkLines
	benchErrorLine  = benchLogLines - 300 // 1-based line of the only error
)

// fillBenchDB inserts the jobs with generate_series and the log as 8192
// chunks of one 128 KiB template (random text, so it does not compress to
// nothing), then the last chunk with an error line.
func fillBenchDB(b *testing.B, ctx context.Context, st *store.Store) (*store.User, int64) {
	b.Helper()
	start := time.Now()
	admin, err := st.CreateUser(ctx, store.NewUser{Username: "admin", Password: testPassword, IsSuperuser: true})
	if err != nil {
		b.Fatal(err)
	}
	dt, err := st.CreateDeviceType(ctx, store.DefaultRealm, store.NewDeviceType{Name: "dut-sim"})
	if err != nil {
		b.Fatal(err)
	}
	dev, err := st.CreateDevice(ctx, store.DefaultRealm, store.NewDevice{Hostname: "board-01", DeviceType: "dut-sim"})
	if err != nil {
		b.Fatal(err)
	}
	pool := st.Pool()
	insertBenchJobs(b, ctx, pool, admin.ID, dt.ID, dev.ID)
	var logJob int64
	if err := pool.QueryRow(ctx, `SELECT max(id) FROM jobs`).Scan(&logJob); err != nil {
		b.Fatal(err)
	}
	insertBenchLog(b, ctx, pool, logJob)
	// A settled table, as a lab's is: statistics and the visibility map.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE jobs`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE log_chunks`); err != nil {
		b.Fatal(err)
	}

	var size int64
	_ = pool.QueryRow(ctx, `SELECT sum(byte_count) FROM log_chunks WHERE job_id = $1`, logJob).Scan(&size)
	fmt.Printf("web bench: built %d jobs and a %.2f GiB log (%d lines) in %.1f s\n", benchJobs, float64(size)/(1<<30), benchLogLines, time.Since(start).Seconds())
	return admin, logJob
}

// benchChunk is 1024 log records of ~128 bytes; withError puts the job's
// only error at benchErrorLine.
func benchChunk(withError bool) []byte {
	var sb strings.Builder
	rnd := make([]byte, 24)
	for i := range benchChunkLines {
		_, _ = rand.Read(rnd)
		lvl := []string{"debug", "info", "target", "debug"}[i%4]
		line := int64(benchChunks-1)*benchChunkLines + int64(i) + 1
		if withError && line == benchErrorLine {
			lvl = "error"
		}
		sb.WriteString(logfmt.Encode(logfmt.Line{DT: time.Date(2026, 1, 1, 0, 0, 0, i*1000, time.UTC), Lvl: lvl,
			Msg: "console output " + hex.EncodeToString(rnd)}))
		sb.WriteByte('\n')
	}
	return []byte(sb.String())
}

// benchLogin opens a session through the login form and returns its cookie.
func benchLogin(b *testing.B, h http.Handler, u *store.User) *http.Cookie {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/accounts/login/", nil))
	var csrf *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "golava_csrf" {
			csrf = c
		}
	}
	if csrf == nil {
		b.Fatal("no csrf cookie")
	}
	form := "csrf=" + csrf.Value + "&username=" + u.Username + "&password=" + strings.ReplaceAll(testPassword, " ", "+")
	req := httptest.NewRequest(http.MethodPost, "/accounts/login/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(csrf)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "golava_session" {
			return c
		}
	}
	b.Fatalf("login failed: %d %s", rec.Code, rec.Body.String())
	return nil
}

func pgIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// insertBenchJobs inserts the million jobs. The secondary indexes of jobs
// (whatever the migrations made) are built once after the insert: much
// faster than a million updates of each.
func insertBenchJobs(b *testing.B, ctx context.Context, pool *pgxpool.Pool, userID, dtID, devID int64) {
	b.Helper()
	rows, err := pool.Query(ctx, `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'jobs' AND indexname <> 'jobs_pkey'`)
	if err != nil {
		b.Fatal(err)
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			b.Fatal(err)
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	for _, name := range names {
		if _, err := pool.Exec(ctx, `DROP INDEX `+pgIdent(name)); err != nil {
			b.Fatal(err)
		}
	}
	// Jobs end over the last 100 days; one in ten is Incomplete.
	_, err = pool.Exec(ctx, `INSERT INTO jobs (realm_id, submitter_id, description, definition, original_definition,
    requested_device_type_id, actual_device_id, state, health, token, submit_time, start_time, end_time)
SELECT 1, $1, 'bench job ' || g, 'x', 'x', $2, $3, 'Finished',
    CASE WHEN g % 10 = 0 THEN 'Incomplete' ELSE 'Complete' END, 't' || g,
    now() - (($4 - g) * interval '8 seconds') - interval '1 hour', now() - (($4 - g) * interval '8 seconds') - interval '50 minutes',
    now() - (($4 - g) * interval '8 seconds') - interval '40 minutes'
FROM generate_series(1, $4) g`, userID, dtID, devID, benchJobs)
	if err != nil {
		b.Fatalf("insert jobs: %v", err)
	}
	for _, def := range defs {
		if _, err := pool.Exec(ctx, def); err != nil {
			b.Fatalf("%s: %v", def, err)
		}
	}
}

// insertBenchLog writes 8191 copies of a 128 KiB chunk and a last chunk
// holding the only error.
func insertBenchLog(b *testing.B, ctx context.Context, pool *pgxpool.Pool, logJob int64) {
	b.Helper()
	chunk := benchChunk(false)
	_, err := pool.Exec(ctx, `INSERT INTO log_chunks (job_id, first_line, line_count, byte_count, data)
SELECT $1, g * $2::bigint, $2, $3, $4 FROM generate_series(0, $5 - 2) g`, logJob, benchChunkLines, len(chunk), chunk, benchChunks)
	if err != nil {
		b.Fatalf("insert log: %v", err)
	}
	last := benchChunk(true)
	_, err = pool.Exec(ctx, `INSERT INTO log_chunks (job_id, first_line, line_count, byte_count, data) VALUES ($1, $2, $3, $4, $5)`,
		logJob, int64(benchChunks-1)*benchChunkLines, benchChunkLines, len(last), last)
	if err != nil {
		b.Fatalf("insert last chunk: %v", err)
	}
	_, err = pool.Exec(ctx, `UPDATE jobs SET log_lines = $2, log_bytes = $3 WHERE id = $1`, logJob, benchLogLines, int64(len(chunk))*benchChunks)
	if err != nil {
		b.Fatal(err)
	}
}
