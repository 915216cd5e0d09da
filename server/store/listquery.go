package store

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Listings of workers, devices and device types take a ListQuery: the REST
// API turns Django-style parameters (?hostname__startswith=x&ordering=-state)
// into it; the store checks each field against a per-table whitelist so no
// caller text reaches the SQL.

// ErrInvalidFilter is returned for a filter value of the wrong type.
var ErrInvalidFilter = errors.New("invalid filter")

// ListQuery selects one page of a listing.
type ListQuery struct {
	Filters []Filter
	// Order names columns; a leading "-" sorts descending. Unknown names
	// are ignored, as DRF's OrderingFilter does.
	Order  []string
	Limit  int // 0 means no limit
	Offset int
	// Restrict limits the listing to what Viewer (nil: anonymous) may see
	// (perms.go); internal callers leave it false.
	Restrict bool
	Viewer   *User
}

// Filter is one condition: Field Op Values. Ops: exact, iexact, in,
// contains, icontains, startswith, endswith, lt, gt. Only "in" takes more
// than one value.
type Filter struct {
	Field  string
	Op     string
	Values []string
}

type colKind int

const (
	colText colKind = iota
	colBool
	colInt
	colTime
)

type listColumn struct {
	expr string
	kind colKind
	// order, when set, sorts instead of expr: LAVA stores states and
	// healths as integers and sorts by them, not by name.
	order string
}

// sortExpr is what ORDER BY uses for c.
func (c listColumn) sortExpr() string {
	if c.order != "" {
		return c.order
	}
	return c.expr
}

// listSQL holds the pieces built from a ListQuery.
type listSQL struct {
	where string // " AND ..." conditions, empty when none
	order string // "ORDER BY ..."
	page  string // "LIMIT .. OFFSET .."
	args  []any
}

// buildList turns q into SQL over cols; args continue after the caller's
// first nArgs placeholders. def is the default and tie-breaking order.
func buildList(cols map[string]listColumn, q ListQuery, nArgs int, def string) (listSQL, error) {
	var out listSQL
	var conds []string
	arg := func(v any) string {
		out.args = append(out.args, v)
		return "$" + strconv.Itoa(nArgs+len(out.args))
	}
	for _, f := range q.Filters {
		c, ok := cols[f.Field]
		if !ok {
			return out, fmt.Errorf("%w: unknown field %q", ErrInvalidFilter, f.Field)
		}
		cond, err := filterCond(c, f, arg)
		if err != nil {
			return out, err
		}
		conds = append(conds, cond)
	}
	if len(conds) > 0 {
		out.where = " AND " + strings.Join(conds, " AND ")
	}
	var order []string
	for _, o := range q.Order {
		desc := strings.HasPrefix(o, "-")
		c, ok := cols[strings.TrimPrefix(o, "-")]
		if !ok {
			continue
		}
		if desc {
			order = append(order, c.sortExpr()+" DESC")
		} else {
			order = append(order, c.sortExpr())
		}
	}
	out.order = "ORDER BY " + strings.Join(append(order, def), ", ")
	if q.Limit > 0 {
		out.page = fmt.Sprintf("LIMIT %d", q.Limit)
	}
	if q.Offset > 0 {
		out.page += fmt.Sprintf(" OFFSET %d", q.Offset)
	}
	return out, nil
}

func filterCond(c listColumn, f Filter, arg func(any) string) (string, error) {
	if len(f.Values) == 0 || (f.Op != "in" && len(f.Values) != 1) {
		return "", fmt.Errorf("%w: %s__%s needs one value", ErrInvalidFilter, f.Field, f.Op)
	}
	vals := make([]any, len(f.Values))
	for i, v := range f.Values {
		x, err := convertValue(c.kind, v)
		if err != nil {
			return "", fmt.Errorf("%w: %s: %v", ErrInvalidFilter, f.Field, err)
		}
		vals[i] = x
	}
	text := c.kind == colText
	switch {
	case f.Op == "exact":
		return c.expr + " = " + arg(vals[0]), nil
	case f.Op == "in":
		return c.expr + " = ANY(" + arg(typedSlice(c.kind, vals)) + ")", nil
	case f.Op == "lt" && !text && c.kind != colBool:
		return c.expr + " < " + arg(vals[0]), nil
	case f.Op == "gt" && !text && c.kind != colBool:
		return c.expr + " > " + arg(vals[0]), nil
	case !text:
	case f.Op == "iexact":
		return "lower(" + c.expr + ") = lower(" + arg(vals[0]) + ")", nil
	case f.Op == "contains":
		return "strpos(" + c.expr + ", " + arg(vals[0]) + ") > 0", nil
	case f.Op == "icontains":
		return "strpos(lower(" + c.expr + "), lower(" + arg(vals[0]) + ")) > 0", nil
	case f.Op == "startswith":
		return "starts_with(" + c.expr + ", " + arg(vals[0]) + ")", nil
	case f.Op == "endswith":
		return "right(" + c.expr + ", length(" + arg(vals[0]) + "::text)) = " + arg(vals[0]), nil
	}
	return "", fmt.Errorf("%w: %s does not support %q", ErrInvalidFilter, f.Field, f.Op)
}

func convertValue(k colKind, v string) (any, error) {
	switch k {
	case colBool:
		switch v {
		case "true", "True", "1":
			return true, nil
		case "false", "False", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", v)
	case colInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", v)
		}
		return n, nil
	case colTime:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, nil
			}
		}
		return nil, fmt.Errorf("%q is not a date and time", v)
	}
	return v, nil
}

// typedSlice gives pgx an array type it can encode.
func typedSlice(k colKind, vals []any) any {
	switch k {
	case colBool:
		return listCollect[bool](vals)
	case colInt:
		return listCollect[int64](vals)
	case colTime:
		return listCollect[time.Time](vals)
	}
	return listCollect[string](vals)
}

func listCollect[T any](vals []any) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = v.(T)
	}
	return out
}
