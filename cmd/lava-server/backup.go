package main

import (
	"context"
	"fmt"

	"golava/server/ops"
)

func cmdDump(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("dump", "FILE", cio)
	pgBin := f.String("pg-bin-dir", env("LAVA_PG_BIN_DIR", ""), "folder of pg_dump; default PATH, then /usr/lib/postgresql/15/bin (env LAVA_PG_BIN_DIR)")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	if err := ops.Dump(ctx, ops.BackupConfig{DatabaseURL: *f.dbURL, PGBinDir: *pgBin}, pos[0]); err != nil {
		return fail(cio, "dump", err)
	}
	fmt.Fprintf(cio.stdout, "dumped to %s\n", pos[0])
	return 0
}

func cmdRestore(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("restore", "FILE", cio)
	pgBin := f.String("pg-bin-dir", env("LAVA_PG_BIN_DIR", ""), "folder of pg_restore; default PATH, then /usr/lib/postgresql/15/bin (env LAVA_PG_BIN_DIR)")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	if err := ops.Restore(ctx, ops.BackupConfig{DatabaseURL: *f.dbURL, PGBinDir: *pgBin}, pos[0]); err != nil {
		return fail(cio, "restore", err)
	}
	fmt.Fprintf(cio.stdout, "restored from %s\n", pos[0])
	return 0
}
