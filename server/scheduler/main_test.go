package scheduler_test

import (
	"testing"

	"golava/server/store/storetest"
)

// One PostgreSQL cluster for the package's tests (the pure Decide tests
// do not use it).
func TestMain(m *testing.M) { storetest.Main(m) }
