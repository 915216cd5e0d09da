package mask

import (
	"reflect"
	"testing"
)

func TestApply(t *testing.T) {
	m := New([]string{"abc", "", "abcdef", "x y", "abc"})
	cases := []struct{ in, want string }{
		{"", ""},
		{"nothing here", "nothing here"},
		{"token=abcdef;", "token=[secret];"},           // the longer value wins
		{"abcabc", "[secret][secret]"},                 // adjacent
		{"+ echo x y abc", "+ echo [secret] [secret]"}, // value with a space
		{"zabcz", "z[secret]z"},                        // inside a word
	}
	for _, c := range cases {
		if got := m.Apply(c.in); got != c.want {
			t.Errorf("Apply(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if !m.Contains("xx abc") || m.Contains("ab c") {
		t.Error("Contains is wrong")
	}
}

func TestNilAndEmpty(t *testing.T) {
	var m *Masker
	if m.Apply("abc") != "abc" || m.Contains("abc") || m.Value("abc") != "abc" {
		t.Error("a nil masker changed something")
	}
	if New(nil) != nil || New([]string{""}) != nil {
		t.Error("New without values should be nil")
	}
}

func TestValue(t *testing.T) {
	m := New([]string{"s3cr3t"})
	in := map[string]any{
		"case":        "login_s3cr3t",
		"result":      "pass",
		"measurement": 1.5,
		"extra":       []any{"a", "s3cr3t", 3, map[string]any{"s3cr3t-key": "v"}},
		"untouched":   map[string]any{"a": "b"},
	}
	want := map[string]any{
		"case":        "login_[secret]",
		"result":      "pass",
		"measurement": 1.5,
		"extra":       []any{"a", "[secret]", 3, map[string]any{"[secret]-key": "v"}},
		"untouched":   map[string]any{"a": "b"},
	}
	got := m.Value(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Value = %#v\nwant %#v", got, want)
	}
	if in["case"] != "login_s3cr3t" || in["extra"].([]any)[1] != "s3cr3t" {
		t.Fatal("Value modified its input")
	}
	steps := []map[string]any{{"name": "a"}, {"description": "run s3cr3t"}}
	if got := m.Value(steps); !reflect.DeepEqual(got, []map[string]any{{"name": "a"}, {"description": "run [secret]"}}) {
		t.Fatalf("Value(steps) = %#v", got)
	}
	same := map[string]any{"a": []any{"b"}}
	if reflect.ValueOf(m.Value(same)).Pointer() != reflect.ValueOf(same).Pointer() {
		t.Error("an unchanged map was copied")
	}
}
