package scheduler

import (
	"testing"
	"time"
)

func TestCronNext(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 2, 12, 34, 56, 0, time.UTC) // a Friday
	tests := []struct {
		expr, tz string
		want     string
	}{
		{"* * * * *", "", "2026-01-02T12:35:00Z"},
		{"0 * * * *", "", "2026-01-02T13:00:00Z"},
		{"*/15 * * * *", "", "2026-01-02T12:45:00Z"},
		{"30 2 * * *", "", "2026-01-03T02:30:00Z"},
		{"0 0 1 * *", "", "2026-02-01T00:00:00Z"},
		{"0 9 * * 1-5", "", "2026-01-05T09:00:00Z"},
		{"0 9 * * 0", "", "2026-01-04T09:00:00Z"},
		{"0 9 * * 7", "", "2026-01-04T09:00:00Z"},
		{"0 0 13 * 5", "", "2026-01-09T00:00:00Z"}, // day 13 or a Friday
		{"5,10 12 2 1 *", "", "2027-01-02T12:05:00Z"},
		{"0 3 * * *", "Europe/Paris", "2026-01-03T02:00:00Z"},
		{"0 0 29 2 *", "", "2028-02-29T00:00:00Z"},
		{"0 0 30 2 *", "", "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		c, err := ParseCron(tt.expr, tt.tz)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		if got := c.Next(from).Format(time.RFC3339); got != tt.want {
			t.Errorf("%q in %q: next %s, want %s", tt.expr, tt.tz, got, tt.want)
		}
	}
	for _, bad := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
		"*/0 * * * *", "a * * * *", "5-1 * * * *", "* * * * * *"} {
		if _, err := ParseCron(bad, ""); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ParseCron("* * * * *", "Mars/Olympus"); err == nil {
		t.Error("bad time zone: no error")
	}
}
