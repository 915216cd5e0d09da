package jobdef

import (
	"errors"
	"math/big"
	"reflect"
	"testing"
	"time"
)

var errWanted = &struct{ x int }{1}

func TestYAML11Scalars(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want any
	}{
		{"yes", true}, {"No", false}, {"on", true}, {"OFF", false}, {"true", true},
		{"y", "y"}, {"'yes'", "yes"}, {`"on"`, "on"},
		{"0x20", 32}, {"010", 8}, {"0b101", 5}, {"1:30", 90}, {"-1:00:00", -3600},
		{"1_000", 1000}, {"0", 0}, {"+7", 7}, {"09", "09"},
		{"1.5", 1.5}, {"1e3", "1e3"}, {"1.0e+3", 1000.0}, {"1:30.5", 90.5},
		{"~", nil}, {"null", nil}, {"", nil}, {"Null", nil},
		{"2023-01-02", time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"2023-01-02 10:11:12Z", time.Date(2023, 1, 2, 10, 11, 12, 0, time.UTC)},
		{"2023-13-40", errWanted}, // PyYAML fails to build the date too
		{"!!str 12", "12"}, {"!!int '12'", 12}, {"!!float 1", 1.0},
		{"99999999999999999999999", func() any { i, _ := new(big.Int).SetString("99999999999999999999999", 10); return i }()},
	} {
		v, _, err := loadYAML11([]byte("k: " + tc.in + "\n"))
		if err != nil {
			if tc.want == errWanted {
				continue
			}
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if tc.want == errWanted {
			t.Errorf("%q: no error", tc.in)
			continue
		}
		got := v.get("k").goValue()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestYAML11Mappings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want map[string]any
	}{
		{"a: 1\na: 2\n", map[string]any{"a": 2}},
		{"1: a\n1.0: b\n", map[string]any{"1": "b"}},
		{"base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n",
			map[string]any{"base": map[string]any{"x": 1, "y": 2}, "m": map[string]any{"x": 1, "y": 3}}},
		{"a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm: {<<: [*a, *b]}\n",
			map[string]any{"a": map[string]any{"x": 1}, "b": map[string]any{"x": 2, "z": 2}, "m": map[string]any{"x": 1, "z": 2}}},
		{"yes: 1\n", map[string]any{"True": 1}},
	} {
		v, _, err := loadYAML11([]byte(tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := v.goValue(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestYAML11DuplicateKeepsFirstPosition(t *testing.T) {
	t.Parallel()
	v, _, err := loadYAML11([]byte("a: 1\nb: 2\na: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v.keys) != 2 || v.keys[0].s != "a" || v.vals[0].i.Int64() != 3 || v.vals[0].line != 3 {
		t.Errorf("keys %v", v.goValue())
	}
}

func TestDecodeYAML11(t *testing.T) {
	t.Parallel()
	got, err := DecodeYAML11([]byte("run:\n  steps: [yes, 010]\nrun:\n  steps: [on]\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"run": map[string]any{"steps": []any{true}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v", got)
	}
	_, err = DecodeYAML11([]byte("a: [\n"))
	var e Error
	if !errors.As(err, &e) || e.Line == 0 {
		t.Errorf("syntax error = %#v", err)
	}
}
