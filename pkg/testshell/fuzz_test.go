package testshell

import (
	"strings"
	"testing"
)

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"<LAVA_SIGNAL_STARTRUN 0_smoke 1234-abcd>\r\r",
		"\x1b[0m<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=a RESULT=pass MEASUREMENT=1.5 UNITS=s>",
		"<LAVA_TEST_RUNNER EXIT>",
		"root@dut-sim:~# <LAVA_SIGNAL_X",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clean := CleanLine(s)
		if strings.HasSuffix(clean, "\r") {
			t.Fatalf("CleanLine(%q) kept a trailing CR", s)
		}
		sig, ok := ParseLine(clean)
		if !ok {
			return
		}
		if sig.Name == "" {
			t.Fatalf("signal without name from %q", s)
		}
		if sig.Name == TestCase {
			_, _ = ParseTestCase(sig.Params, nil)
		}
	})
}
