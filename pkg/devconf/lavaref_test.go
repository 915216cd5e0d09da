package devconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lavaTemplates is the device-types directory of the unpacked lava-server
// 2023.01 package: $LAVA_REF_DIR, else <repo>/.cache/lava-ref (`make ref`).
func lavaTemplates(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LAVA_REF_DIR")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, ".cache", "lava-ref")
				break
			}
			if filepath.Dir(d) == d {
				t.Fatalf("no go.mod above %s", wd)
			}
		}
	}
	dt := filepath.Join(dir, "usr/share/lava-server/device-types")
	if _, err := os.Stat(filepath.Join(dt, "base.jinja2")); err != nil {
		t.Fatalf("LAVA device-type templates not found in %s (set LAVA_REF_DIR or run `make ref`): %v", dt, err)
	}
	return dt
}

const labCommands = `
{% set connection_command = 'telnet localhost 7000' %}
{% set hard_reset_command = 'pdu reboot 8' %}
{% set power_off_command = 'pdu off 8' %}
{% set power_on_command = 'pdu on 8' %}
`

// TestRenderLAVATemplates renders dictionaries through lava-server's own
// templates. The expectations were checked against Python Jinja2 renders
// of the same dictionaries.
func TestRenderLAVATemplates(t *testing.T) {
	t.Parallel()
	r := NewRenderer(os.DirFS(lavaTemplates(t)))
	for _, tc := range []struct {
		typ, extra string
		path       []string
		want       any
	}{
		{"beaglebone-black", "", []string{"actions", "boot", "methods", "u-boot", "parameters", "bootloader_prompt"}, "U-Boot"},
		{"beaglebone-black", "{% set bootloader_prompt = '=>' %}", []string{"actions", "boot", "methods", "u-boot", "parameters", "bootloader_prompt"}, "=>"},
		{"beaglebone-black", "", []string{"character_delays", "boot"}, 10},
		{"x86", "", []string{"actions", "boot", "methods", "ipxe", "parameters", "bootloader_prompt"}, "iPXE>"},
		{"hi6220-hikey", "{% set fastboot_serial_number = '0123' %}", []string{"fastboot_serial_number"}, "0123"},
		{"juno", "", []string{"device_type"}, nil},
		// A trailing comma in a dict literal.
		{"mustang-uefi", "", []string{"actions", "boot", "methods", "uefi-menu", "parameters", "interrupt_prompt"}, "The default boot selection will start in"},
		// Nested blocks do not see the enclosing block's variables.
		{"d03", "", []string{"actions", "boot", "methods", "grub", "ramdisk", "commands"}, nil},
		// join over an undefined item.
		{"acer-R721T-grunt", "", []string{"actions", "boot", "methods", "depthcharge", "parameters", "start_message"}, nil},
		// Adjacent string literals.
		{"imx6q-sabrelite", "", []string{"actions", "boot", "methods", "u-boot", "nbd"}, nil},
	} {
		dict := "{% extends '" + tc.typ + ".jinja2' %}\n" + labCommands + tc.extra
		out, err := r.Render(dict)
		if err != nil {
			t.Errorf("%s: %v", tc.typ, err)
			continue
		}
		m := decode(t, out)
		if dig(m, "commands", "connect") != "telnet localhost 7000" || dig(m, "commands", "hard_reset") != "pdu reboot 8" ||
			dig(m, "commands", "power_on") != "pdu on 8" || dig(m, "commands", "power_off") != "pdu off 8" {
			t.Errorf("%s: commands = %v", tc.typ, m["commands"])
		}
		got := dig(m, tc.path...)
		if tc.want != nil && got != tc.want {
			t.Errorf("%s: %s = %#v, want %#v", tc.typ, strings.Join(tc.path, "."), got, tc.want)
		}
		if tc.want == nil && tc.path[0] == "actions" && got == nil {
			t.Errorf("%s: no %s", tc.typ, strings.Join(tc.path, "."))
		}
		if tc.typ == "d03" && strings.Contains(out, "console=ttyS0,115200 earlycon") {
			t.Errorf("d03: nested block saw the enclosing block's console_device")
		}
		if tc.typ == "acer-R721T-grunt" && strings.Contains(out, "None") {
			t.Errorf("acer-R721T-grunt: undefined kernel args printed as None")
		}
	}
}

// TestRenderAllLAVATemplates renders every lava-server device type with a
// minimal dictionary: each must render to a YAML mapping.
func TestRenderAllLAVATemplates(t *testing.T) {
	t.Parallel()
	dir := lavaTemplates(t)
	r := NewRenderer(os.DirFS(dir))
	files, err := filepath.Glob(filepath.Join(dir, "*.jinja2"))
	if err != nil || len(files) < 300 {
		t.Fatalf("expected ~360 templates, found %d: %v", len(files), err)
	}
	failed := 0
	for _, f := range files {
		name := filepath.Base(f)
		if _, err := r.Render("{% extends '" + name + "' %}" + labCommands); err != nil {
			// base-fastboot renders a duplicate key that PyYAML keeps; our
			// check tolerates it, so every template must pass.
			t.Errorf("%s: %v", name, err)
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d templates failed", failed, len(files))
	}
}
