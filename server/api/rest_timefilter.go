package api

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"golava/server/store"
)

// timeLayouts are the datetime forms Django's DateTimeFilter accepts
// (ISO 8601 with "T" or a space, with or without zone or seconds).
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"}

// timeFilters reads submit_time__gt=, end_time__lte= and the like.
func timeFilters(q url.Values) ([]store.TimeFilter, error) {
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []store.TimeFilter
	for _, k := range keys {
		field, op, ok := strings.Cut(k, "__")
		if !ok || !store.ValidTimeFilter(field, op) {
			continue
		}
		v := q.Get(k)
		var at time.Time
		var err error
		for _, layout := range timeLayouts {
			if at, err = time.Parse(layout, v); err == nil {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%s: enter a valid date/time, not %q", k, v)
		}
		out = append(out, store.TimeFilter{Field: field, Op: op, At: at})
	}
	return out, nil
}
