package ops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BackupConfig locates the database and PostgreSQL's client tools.
type BackupConfig struct {
	DatabaseURL string
	// PGBinDir holds pg_dump and pg_restore; empty looks in PATH, then in
	// Debian's /usr/lib/postgresql/15/bin. They must be at least as new as
	// the server.
	PGBinDir string
}

// Dump writes the whole lab to file in pg_dump's custom format. Logs live
// in the log_chunks table, so one dump holds jobs, logs, results, users and
// devices together, and pg_dump reads them all in one snapshot: the dump
// is consistent while the lab keeps running.
func Dump(ctx context.Context, cfg BackupConfig, file string) error {
	if file == "" {
		return errors.New("dump: no output file")
	}
	bin, err := pgTool(cfg.PGBinDir, "pg_dump")
	if err != nil {
		return err
	}
	dsn, err := libpqURL(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	// Written beside the target and renamed, so a failed dump never
	// replaces a good one.
	tmp := file + ".partial"
	args := []string{"--format=custom", "--no-owner", "--no-privileges", "--file=" + tmp, "--dbname=" + dsn}
	if err := runTool(ctx, bin, args); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("dump to %s: %w", file, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("dump: %w", err)
	}
	return nil
}

// Restore replaces the database's content with the dump in file, in one
// transaction: on error the database is left as it was. Stop every golava
// service using the database first.
func Restore(ctx context.Context, cfg BackupConfig, file string) error {
	st, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("restore: %s is not a file", file)
	}
	bin, err := pgTool(cfg.PGBinDir, "pg_restore")
	if err != nil {
		return err
	}
	dsn, err := libpqURL(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	args := []string{"--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
		"--exit-on-error", "--dbname=" + dsn, file}
	if err := runTool(ctx, bin, args); err != nil {
		return fmt.Errorf("restore from %s: %w", file, err)
	}
	return nil
}

// pgTool finds a PostgreSQL client program.
func pgTool(dir, name string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/lib/postgresql/15/bin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s not found in PATH nor /usr/lib/postgresql/15/bin (install postgresql-client-15)", name)
	}
	return p, nil
}

// libpqURL drops the pgx-only parameters (pool_*) libpq would refuse.
func libpqURL(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("no database URL: pass --database-url or set LAVA_DATABASE_URL")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("database URL: want postgres://user@host/db")
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// runTool runs a client program, its stderr becoming the error.
func runTool(ctx context.Context, bin string, args []string) error {
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(bin), err, msg)
	}
	return nil
}
