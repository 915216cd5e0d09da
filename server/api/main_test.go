package api

import (
	"testing"

	"golava/server/store/storetest"
)

// The package's only TestMain: handler tests get a fresh database with
// storetest.New(t).
func TestMain(m *testing.M) { storetest.Main(m) }
