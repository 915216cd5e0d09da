package ops

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"golava/server/store"
)

// fingerprint is, per table of the public schema, its row count and a
// digest of every row.
func fingerprint(t *testing.T, pool *pgxpool.Pool) map[string]string {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, tb := range tables {
		var n int64
		var sum string
		q := `SELECT count(*), md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM public.` + tb + ` x`
		if err := pool.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		out[tb] = sum
		out[tb+" rows"] = strconv.FormatInt(n, 10)
	}
	return out
}

func TestDumpWipeRestore(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.seed(t, 3000, time.Now())
	// A log of several chunks with binary-safe content and a result set.
	l.exec(t, `INSERT INTO log_chunks (job_id, first_line, line_count, byte_count, data)
	    SELECT id, 1, 2, 9, '\x00ff0a6c696e650a'::bytea FROM jobs WHERE description = 'r3'`)
	l.exec(t, `INSERT INTO test_sets (suite_id, name) SELECT id, 'set1' FROM test_suites LIMIT 5`)
	url := l.st.Pool().Config().ConnString()
	before := fingerprint(t, l.st.Pool())
	if before["jobs rows"] == "0" || before["log_chunks rows"] == "0" || before["test_cases rows"] == "0" {
		t.Fatalf("nothing to dump: %v", before)
	}

	file := filepath.Join(t.TempDir(), "lab.dump")
	ctx := context.Background()
	cfg := BackupConfig{DatabaseURL: url}
	if err := Dump(ctx, cfg, file); err != nil {
		t.Fatal(err)
	}
	l.exec(t, `DROP SCHEMA public CASCADE`)
	l.exec(t, `CREATE SCHEMA public`)
	if got := fingerprint(t, l.st.Pool()); len(got) != 0 {
		t.Fatalf("wipe left %v", got)
	}
	// A garbage file fails and changes nothing.
	bad := filepath.Join(t.TempDir(), "bad.dump")
	if err := os.WriteFile(bad, []byte("not a dump"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Restore(ctx, cfg, bad); err == nil || !strings.Contains(err.Error(), "bad.dump") {
		t.Errorf("restore of garbage: %v", err)
	}
	if err := Restore(ctx, cfg, file); err != nil {
		t.Fatal(err)
	}
	after := fingerprint(t, l.st.Pool())
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s after restore, %s before", k, after[k], v)
		}
	}
	if len(after) != len(before) {
		t.Errorf("tables: %d after, %d before", len(after), len(before))
	}
	// The restored lab works: sequences go on past the restored ids, and
	// migrations see an up-to-date database.
	if err := store.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	var maxID, newID int64
	if err := l.st.Pool().QueryRow(ctx, `SELECT max(id) FROM jobs`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	l.st.Pool().Reset() // the wipe invalidated cached statement plans
	if err := l.st.Pool().QueryRow(ctx, `INSERT INTO jobs (realm_id, submitter_id, definition, original_definition, token)
	    VALUES (1, $1, 'x', 'x', 'new') RETURNING id`, l.user.ID).Scan(&newID); err != nil {
		t.Fatal(err)
	}
	if newID <= maxID {
		t.Errorf("new job id %d, restored max %d", newID, maxID)
	}
}

func TestBackupErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"no url", Dump(ctx, BackupConfig{}, filepath.Join(dir, "x")), "no database URL"},
		{"bad url", Dump(ctx, BackupConfig{DatabaseURL: "mysql://x"}, filepath.Join(dir, "x")), "want postgres://"},
		{"no file", Restore(ctx, BackupConfig{DatabaseURL: "postgres://x/y"}, filepath.Join(dir, "missing")), "missing"},
		{"dir", Restore(ctx, BackupConfig{DatabaseURL: "postgres://x/y"}, dir), "not a file"},
		{"no tool", Dump(ctx, BackupConfig{DatabaseURL: "postgres://x/y", PGBinDir: dir}, filepath.Join(dir, "x")), "pg_dump"},
		{"unreachable", Dump(ctx, BackupConfig{DatabaseURL: "postgres://u@127.0.0.1:1/db?connect_timeout=2"}, filepath.Join(dir, "x")), "pg_dump"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a failed dump left its file")
	}
}
