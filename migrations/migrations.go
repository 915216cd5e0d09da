package migrations

import "embed"

// FS holds the numbered goose migrations, applied by `lava-server migrate` and lava-lab.
//
//go:embed *.sql
var FS embed.FS
