package api

import (
	"strings"
	"testing"
)

// FuzzParseLogLines checks that any upload either fails or splits into
// one-line records that join back to the input.
func FuzzParseLogLines(f *testing.F) {
	f.Add(`- {"dt": "2023-01-10T10:00:00.123456", "lvl": "info", "msg": "hello"}`)
	f.Add("- {\"dt\": \"2023-01-10T10:00:00.123456\", \"lvl\": \"target\", \"msg\": \"a\\n- b\"}\n- {\"lvl\": \"results\", \"msg\": {\"case\": \"x\"}}")
	f.Add("- \n- \n")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, lines string) {
		records, err := ParseLogLines(lines)
		if err != nil {
			return
		}
		if len(records) == 0 {
			t.Fatalf("no records and no error for %q", lines)
		}
		for _, r := range records {
			if strings.Contains(r, "\n") {
				t.Fatalf("record %q has a newline", r)
			}
		}
		if got := "- " + strings.Join(records, "\n- "); got != strings.TrimRight(lines, "\n") {
			t.Fatalf("round trip: %q != %q", got, lines)
		}
	})
}
