package artifacts_test

import (
	"testing"

	"golava/server/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }
