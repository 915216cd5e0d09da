package devconf

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRender feeds arbitrary dictionaries to the renderer: it must return
// an error or a YAML mapping, never panic.
func FuzzRender(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.jinja2")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("{% extends 'dut-sim.jinja2' %}{% set l = [\n'a' 'b',] %}{{ l }}")
	for _, tc := range runawayDictionaries {
		f.Add(tc.dict)
	}
	r := NewRenderer()
	f.Fuzz(func(t *testing.T, dict string) {
		out, err := r.Render(dict)
		if err != nil {
			return
		}
		if _, err := DecodeYAML([]byte(out)); err != nil {
			t.Fatalf("Render returned invalid YAML without error: %v", err)
		}
	})
}
