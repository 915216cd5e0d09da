package api

import (
	"fmt"
	"net/http"
	"strings"

	"golava/server/store"
)

// Query parameters of the admin listings, as django-filter reads them in
// LAVA: field__lookup=value, "in" values comma-separated, unknown
// parameters ignored. state and health compare display names ("Idle") but
// their __in and __iexact lookups take LAVA's integer codes, because those
// lookups hit the integer column; golava also accepts names there.

// textLookups are the lookups LAVA allows on text fields.
var textLookups = map[string]bool{"exact": true, "iexact": true, "in": true, "contains": true,
	"icontains": true, "startswith": true, "endswith": true}

// lookups are all suffixes understood after "__".
var lookups = map[string]bool{"exact": true, "iexact": true, "in": true, "contains": true,
	"icontains": true, "startswith": true, "endswith": true, "lt": true, "gt": true}

type fieldKind int

const (
	fieldText   fieldKind = iota // textLookups
	fieldChoice                  // state/health: names, integer codes for in/iexact
	fieldInt                     // exact, in
	fieldBool                    // exact, in
	fieldTime                    // exact, lt, gt
	fieldEnum                    // exact only, validated against choices
)

type fieldSpec struct {
	kind    fieldKind
	store   string   // store.ListQuery field name
	choices []string // fieldChoice/fieldEnum: names, in LAVA's code order
	upper   bool     // exact compares upper-cased (LAVA's Device health filter)
}

type filterSpec struct {
	fields map[string]fieldSpec
	// ordering maps ?ordering= names to store fields.
	ordering map[string]string
}

var workerFilters = filterSpec{
	fields: map[string]fieldSpec{
		"hostname":    {kind: fieldText, store: "hostname"},
		"description": {kind: fieldText, store: "description"},
		"last_ping":   {kind: fieldTime, store: "last_ping"},
		"state":       {kind: fieldChoice, store: "state", choices: []string{store.WorkerOnline, store.WorkerOffline}},
		"health":      {kind: fieldChoice, store: "health", choices: []string{store.WorkerActive, store.WorkerMaintenance, store.WorkerRetired}},
	},
	ordering: map[string]string{"hostname": "hostname", "description": "description", "last_ping": "last_ping",
		"state": "state", "health": "health", "job_limit": "job_limit", "version": "version"},
}

var deviceTypeFilters = filterSpec{
	fields: map[string]fieldSpec{
		"name":                 {kind: fieldText, store: "name"},
		"description":          {kind: fieldText, store: "description"},
		"health_frequency":     {kind: fieldInt, store: "health_frequency"},
		"disable_health_check": {kind: fieldBool, store: "disable_health_check"},
		"display":              {kind: fieldBool, store: "display"},
		"health_denominator":   {kind: fieldEnum, store: "health_denominator", choices: []string{"hours", "jobs"}},
	},
	ordering: map[string]string{"name": "name", "description": "description", "health_frequency": "health_frequency",
		"health_denominator": "health_denominator", "disable_health_check": "disable_health_check", "display": "display"},
}

var deviceFilters = filterSpec{
	fields: map[string]fieldSpec{
		"hostname":              {kind: fieldText, store: "hostname"},
		"description":           {kind: fieldText, store: "description"},
		"device_type":           {kind: fieldText, store: "device_type"},
		"device_type__name":     {kind: fieldText, store: "device_type"},
		"worker_host":           {kind: fieldText, store: "worker_host"},
		"worker_host__hostname": {kind: fieldText, store: "worker_host"},
		"tags__name":            {kind: fieldText, store: store.DeviceTagFilter},
		"state":                 {kind: fieldChoice, store: "state", choices: store.DeviceStates},
		"health":                {kind: fieldChoice, store: "health", choices: store.DeviceHealths, upper: true},
	},
	ordering: map[string]string{"hostname": "hostname", "device_type": "device_type", "description": "description",
		"state": "state", "health": "health", "worker_host": "worker_host", "tags": "tags"},
}

// parse builds the store query; the error value is the 400 body.
func (fs filterSpec) parse(r *http.Request) (store.ListQuery, any) {
	var q store.ListQuery
	for key, vals := range r.URL.Query() {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1] // Django's QueryDict.get takes the last value
		if key == "ordering" {
			q.Order = fs.order(v)
			continue
		}
		base, op := key, "exact"
		if i := strings.LastIndex(key, "__"); i > 0 && lookups[key[i+2:]] {
			base, op = key[:i], key[i+2:]
		}
		spec, ok := fs.fields[base]
		if !ok {
			continue
		}
		f, err := spec.filter(op, v)
		if err != nil {
			return q, err
		}
		if f != nil {
			q.Filters = append(q.Filters, *f)
		}
	}
	return q, nil
}

func (fs filterSpec) order(v string) []string {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		desc := strings.HasPrefix(o, "-")
		if f, ok := fs.ordering[strings.TrimPrefix(o, "-")]; ok {
			if desc {
				f = "-" + f
			}
			out = append(out, f)
		}
	}
	return out
}

// filter returns nil for a lookup the field does not have (ignored, as
// django-filter ignores unknown parameters) and a 400 body for a bad value.
func (spec fieldSpec) filter(op, v string) (*store.Filter, any) {
	one := func(o string, vals ...string) *store.Filter {
		return &store.Filter{Field: spec.store, Op: o, Values: vals}
	}
	switch spec.kind {
	case fieldText:
		if !textLookups[op] {
			return nil, nil
		}
		if op == "in" {
			return one(op, strings.Split(v, ",")...), nil
		}
		return one(op, v), nil
	case fieldInt, fieldBool:
		if op == "in" {
			return one(op, strings.Split(v, ",")...), nil
		}
		if op == "exact" {
			return one(op, v), nil
		}
	case fieldTime:
		if op == "exact" || op == "lt" || op == "gt" {
			return one(op, v), nil
		}
	case fieldEnum:
		if op != "exact" {
			return nil, nil
		}
		if !inList(spec.choices, v) {
			return nil, []string{choiceError(v, spec.choices)}
		}
		return one(op, v), nil
	case fieldChoice:
		return spec.choiceFilter(op, v)
	}
	return nil, nil
}

func (spec fieldSpec) choiceFilter(op, v string) (*store.Filter, any) {
	switch op {
	case "exact":
		for _, c := range spec.choices {
			if v == c || spec.upper && strings.ToUpper(v) == strings.ToUpper(c) {
				return &store.Filter{Field: spec.store, Op: "exact", Values: []string{c}}, nil
			}
		}
		return nil, []string{choiceError(v, spec.choices)}
	case "in", "iexact":
		parts := strings.Split(v, ",")
		if op == "iexact" {
			parts = []string{v}
		}
		names := make([]string, 0, len(parts))
		for _, p := range parts {
			name, ok := spec.codeName(strings.TrimSpace(p))
			if !ok {
				return nil, map[string][]string{spec.store + "__" + op: {"Enter a number."}}
			}
			names = append(names, name)
		}
		return &store.Filter{Field: spec.store, Op: "in", Values: names}, nil
	}
	return nil, nil
}

// codeName maps LAVA's integer code (or a name) to the stored name; an
// unknown code maps to "", which matches nothing, as in LAVA.
func (spec fieldSpec) codeName(p string) (string, bool) {
	for i, c := range spec.choices {
		if p == fmt.Sprint(i) || strings.EqualFold(p, c) {
			return c, true
		}
	}
	var n int
	if _, err := fmt.Sscanf(p, "%d", &n); err == nil && fmt.Sprint(n) == p {
		return "", true
	}
	return "", false
}

// choiceError is LAVA's message, with the choices as a Python tuple.
func choiceError(v string, choices []string) string {
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = "'" + c + "'"
	}
	return fmt.Sprintf("Select a valid choice. %s is not one of the available choices: (%s)", v, strings.Join(quoted, ", "))
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
