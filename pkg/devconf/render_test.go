package devconf

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

func decode(t *testing.T, out string) map[string]any {
	t.Helper()
	m, err := DecodeYAML([]byte(out))
	if err != nil {
		t.Fatalf("rendered YAML: %v\n%s", err, out)
	}
	return m
}

func dig(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// TestRenderGolden renders each testdata/*.jinja2 dictionary through
// golava's own templates and compares with testdata/*.yaml.
func TestRenderGolden(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	files, _ := filepath.Glob("testdata/*.jinja2")
	if len(files) < 4 {
		t.Fatalf("dictionaries: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			dict, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.Render(string(dict))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden := strings.TrimSuffix(f, ".jinja2") + ".yaml"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestRenderGolden -update)", err)
			}
			if out != string(want) {
				t.Errorf("render of %s:\n%s\nwant:\n%s", f, out, want)
			}
		})
	}
}

func TestRenderDutSim(t *testing.T) {
	t.Parallel()
	dict, err := os.ReadFile("testdata/dut-sim-board1.jinja2")
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewRenderer().Render(string(dict))
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, out)
	want := map[string]any{
		"connect":    "/x/bin/lava-dut-sim console --dir /x/board1",
		"power_on":   "/x/bin/lava-dut-sim power --dir /x/board1 on",
		"power_off":  "/x/bin/lava-dut-sim power --dir /x/board1 off",
		"hard_reset": "/x/bin/lava-dut-sim power --dir /x/board1 reset",
	}
	if got := m["commands"]; !reflect.DeepEqual(got, want) {
		t.Errorf("commands = %v", got)
	}
	if got := dig(m, "parameters", "lava_test_results_dir"); got != "/x/board1/fs/lava-%s" {
		t.Errorf("results dir = %v", got)
	}
	uboot := dig(m, "actions", "boot", "methods", "u-boot", "parameters")
	if !reflect.DeepEqual(uboot, map[string]any{"bootloader_prompt": "=>", "interrupt_prompt": "Hit any key to stop autoboot",
		"interrupt_char": " ", "boot_message": "Starting kernel"}) {
		t.Errorf("u-boot = %v", uboot)
	}
	if m["device_type"] != "dut-sim" || dig(m, "actions", "deploy", "methods", "tmpfs") == nil || dig(m, "timeouts", "actions", "lava-test-shell") == nil {
		t.Errorf("config = %v", m)
	}
	// The typed model reads it as lava-run will.
	dev, err := Parse([]byte(out))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if dev.DeviceType != "dut-sim" || dev.Commands.Connect != want["connect"] ||
		!reflect.DeepEqual(dev.Commands.HardReset, []string{want["hard_reset"].(string)}) {
		t.Errorf("device = %+v", dev)
	}
	// Defaults: lava-dut-sim on PATH; quotes in values stay valid YAML.
	out, err = NewRenderer().Render("{% extends 'dut-sim.jinja2' %}{% set dut_sim_dir = \"/b/it's\" %}")
	if err != nil {
		t.Fatal(err)
	}
	if got := dig(decode(t, out), "commands", "connect"); got != "lava-dut-sim console --dir /b/it's" {
		t.Errorf("connect = %v", got)
	}
}

func TestRenderQemu(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	for arch, want := range map[string][]string{
		"amd64":  {"qemu-system-x86_64", "-accel tcg", "-machine q35", "-m 1024"},
		"x86_64": {"qemu-system-x86_64", "-accel tcg"},
		"arm64":  {"qemu-system-aarch64", "-accel tcg", "-machine virt", "-cpu max"},
	} {
		// arch may come from the job context instead of the dictionary.
		out, err := r.RenderWith("{% extends 'qemu.jinja2' %}", map[string]any{"arch": arch})
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		m := decode(t, out)
		params := dig(m, "actions", "boot", "methods", "qemu", "parameters").(map[string]any)
		got := []string{params["command"].(string)}
		for _, o := range params["options"].([]any) {
			got = append(got, o.(string))
		}
		joined := strings.Join(got, "|")
		for _, w := range want {
			if !strings.Contains(joined, w) {
				t.Errorf("%s: %q lacks %q", arch, joined, w)
			}
		}
		if dig(m, "actions", "deploy", "methods", "image", "parameters", "guest", "size") != 512 {
			t.Errorf("%s: guest = %v", arch, dig(m, "actions", "deploy", "methods", "image"))
		}
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	r := NewRenderer(fstest.MapFS{
		"broken.jinja2":  {Data: []byte("a: 1\n{% if %}\n")},
		"notyaml.jinja2": {Data: []byte("a: [\n")},
		"list.jinja2":    {Data: []byte("- a\n")},
	})
	for _, tc := range []struct{ dict, want string }{
		{"{% extends 'nosuch.jinja2' %}", "nosuch.jinja2"},
		{"{% extends 'broken.jinja2' %}", "broken.jinja2 line"},
		{"{% extends 'dut-sim.jinja2' %}\n{% set x = %}", "device dictionary line 2: {% set %}"},
		{"{% extends 'notyaml.jinja2' %}", "not valid"},
		{"{% extends 'list.jinja2' %}", "not a YAML mapping"},
		{"{% extends '../etc/passwd' %}", "invalid template name"},
		{strings.Repeat("#", MaxDictionaryBytes+1), "larger than"},
		{"{% for i in range(90000) %}" + strings.Repeat("x", 50000) + "{% endfor %}", "larger than"},
		{"{% for i in range(10000000) %}{% endfor %}", "range() longer than"},
	} {
		_, err := r.Render(tc.dict)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40q: err = %v, want %q", tc.dict, err, tc.want)
		}
		if err != nil && len(err.Error()) > 2000 {
			t.Errorf("%.40q: error too long (%d bytes)", tc.dict, len(err.Error()))
		}
	}
}

func TestRenderConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	dict, err := os.ReadFile("testdata/qemu-arm64.jinja2")
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Render(string(dict))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := r.Render(string(dict))
			if err != nil || got != want {
				errs <- "concurrent render differs"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestJinjaCompat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"{% set l = [\n'a', 'b'] %}":            "{% set l = [\n 'a', 'b'] %}",
		"{% set l = [\"x\"\n    \"y\", 'z'] %}": "{% set l = [(\"x\" ~\n    \"y\"), 'z'] %}",
		"{% set d = {'a': 1,} %}":               "{% set d = {'a': 1 } %}",
		"{{ 'a,]' }} text, ]\n'x'":              "{{ ( 'a,]' ) | pystr }} text, ]\n'x'",
		"{# 'a' 'b' #}{{- 'c' 'd' -}}":          "{# 'a' 'b' #}{{- ( ('c' ~ 'd') ) | pystr -}}",
		"{{ }}":                                 "{{ }}",
		"{% set s = 'it''s' %}":                 "{% set s = ('it' ~ 's') %}",
	} {
		if got := jinjaCompat(in); got != want {
			t.Errorf("jinjaCompat(%q) = %q, want %q", in, got, want)
		}
		if strings.Count(jinjaCompat(in), "\n") != strings.Count(in, "\n") {
			t.Errorf("%q: line count changed", in)
		}
	}
}

func TestPythonRepr(t *testing.T) {
	t.Parallel()
	r := NewRenderer()
	for src, want := range map[string]string{
		`{{ ['a', "it's", 1, 1.5, True, none] }}`:     `['a', "it's", 1, 1.5, True, Undefined]`,
		`{{ {'b': 'x', 'a': ['y']} }}`:                `{'b': 'x', 'a': ['y']}`,
		`{{ ['say "hi"', "both ' \""] }}`:             `['say "hi"', 'both \' "']`,
		`{{ undefined_thing }}|{{ 'plain' }}|{{ 3 }}`: `|plain|3`,
		`{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}{% for i in range(2) %}{{ i }}{% endfor %}`: `32101`,
	} {
		out, err := r.render(src, nil)
		if err != nil || out != want {
			t.Errorf("%s = %q, %v; want %q", src, out, err, want)
		}
	}
}

func TestDecodeYAMLDuplicates(t *testing.T) {
	t.Parallel()
	m, err := DecodeYAML([]byte("a: 1\nb: {x: 1, x: 2}\na: 3\n"))
	if err != nil || m["a"] != 3 || dig(m, "b", "x") != 2 {
		t.Errorf("DecodeYAML = %v, %v", m, err)
	}
	if _, err := DecodeYAML([]byte("- 1\n")); err == nil {
		t.Error("a list is not a device configuration")
	}
}
