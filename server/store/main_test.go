package store_test

import (
	"testing"

	"golava/server/store/storetest"
)

// The package's only TestMain: every store test (package store_test) gets a
// fresh database with storetest.New(t).
func TestMain(m *testing.M) { storetest.Main(m) }
