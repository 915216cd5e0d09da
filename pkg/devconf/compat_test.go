package devconf

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golava/pkg/jobdef"
)

// fullDictionary sets what lab admins usually set in a device dictionary:
// the commands, serial numbers and USB ids, console, kernel arguments,
// SSH, several serial connections. Each template reads the ones it knows.
const fullDictionary = labCommands + `
{% set pre_power_command = 'usb-hub on 3' %}
{% set pre_os_command = 'usb-hub off 3' %}
{% set adb_serial_number = '0123456789ABCDEF' %}
{% set fastboot_serial_number = '0123456789ABCDEF' %}
{% set fastboot_options = ['-S', '256M'] %}
{% set device_info = [{'board_id': '0123456789ABCDEF'}] %}
{% set static_info = [{'board_id': 'S_NO81730000'}] %}
{% set usb_vendor_id = '0451' %}
{% set usb_product_id = 'd00f' %}
{% set usb_serial_number = 'S_NO81730000' %}
{% set board_id = '0240000032044e450049d00e00000000' %}
{% set usb_mass_device = '/dev/disk/by-id/usb-MBED_VFS_0240000032044e45-0:0' %}
{% set usb_uuid = 'usb-SanDisk_Ultra_20060775320F43006019-0:0' %}
{% set usb_device_id = 0 %}
{% set extra_kernel_args = 'rootwait ignore_loglevel' %}
{% set console_device = 'ttyS1' %}
{% set baud_rate = 9600 %}
{% set ssh_host = '192.0.2.10' %}
{% set ssh_user = 'lava' %}
{% set ssh_port = 2222 %}
{% set flasher_deploy_commands = ['flash.sh {IMAGE}'] %}
{% set uboot_mac_addr = '00:11:22:33:44:55' %}
{% set connection_list = ['uart0', 'uart1'] %}
{% set connection_commands = {'uart0': 'telnet localhost 7001', 'uart1': 'telnet localhost 7002'} %}
{% set connection_tags = {'uart1': ['primary', 'telnet']} %}
{% set boot_character_delay = 30 %}
{% set test_character_delay = 5 %}
{% set interrupt_char = ' ' %}
`

// jobContext is what a job's context: block passes to the render; the
// dictionary's own {% set %} wins where both set a variable.
var jobContext = map[string]any{"extra_kernel_args": "quiet", "arch": "arm64", "memory": 1024, "bootloader_prompt": "=>"}

// pyRenderer is one python3 rendering with python3-jinja2 as lava-server
// does (testdata/lava/render.py), for a whole batch.
type pyRenderer struct {
	in  *json.Encoder
	out *bufio.Reader
}

type pyRender struct {
	OK    bool   `json:"ok"`
	Text  string `json:"text"`
	Error string `json:"error"`
}

func startPyRenderer(t *testing.T, templates string) *pyRenderer {
	t.Helper()
	python := os.Getenv("LAVA_PYTHON")
	if python == "" {
		python = "/usr/bin/python3" // Debian's, with python3-jinja2; not pyenv's
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, python, filepath.Join("testdata", "lava", "render.py"), templates)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v (install the test dependencies with `scripts/install-deps.sh test`)", python, err)
	}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("render.py: %v: %s", err, stderr.String())
		}
		cancel()
	})
	p := &pyRenderer{in: json.NewEncoder(in), out: bufio.NewReaderSize(out, 1<<20)}
	if _, err := p.render("hello", nil); err != nil {
		t.Fatalf("python3-jinja2 does not answer: %v\n%s\n(needs python3-jinja2: `scripts/install-deps.sh test`)", err, stderr.String())
	}
	return p
}

func (p *pyRenderer) render(dict string, vars map[string]any) (pyRender, error) {
	var r pyRender
	if err := p.in.Encode(map[string]any{"dict": dict, "context": vars}); err != nil {
		return r, fmt.Errorf("write request: %w", err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return r, fmt.Errorf("read answer: %w", err)
	}
	return r, json.Unmarshal(line, &r)
}

// renderCase is one dictionary rendered by both engines.
type renderCase struct {
	name string
	dict string
	vars map[string]any
}

// compareRender says whether both engines give the same parsed YAML, and
// if not, what differs.
func compareRender(r *Renderer, py *pyRenderer, c renderCase) (equal, byteEqual bool, why string, err error) {
	want, err := py.render(c.dict, c.vars)
	if err != nil {
		return false, false, "", err
	}
	got, gerr := r.RenderWith(c.dict, c.vars)
	switch {
	case !want.OK && gerr != nil:
		return true, false, "", nil
	case !want.OK:
		return false, false, "Jinja2 fails (" + want.Error + "), golava renders", nil
	case gerr != nil && got == "":
		return false, false, "golava fails: " + gerr.Error(), nil
	}
	wantV, werr := jobdef.DecodeYAML11([]byte(want.Text))
	gotV, gerr2 := jobdef.DecodeYAML11([]byte(got))
	switch {
	case werr != nil && gerr2 != nil:
		return got == want.Text, got == want.Text, "both render invalid YAML, differently", nil
	case werr != nil || gerr2 != nil:
		return false, false, fmt.Sprintf("YAML: Jinja2's %v, golava's %v", werr, gerr2), nil
	case reflect.DeepEqual(wantV, gotV):
		return true, got == want.Text, "", nil
	}
	return false, false, firstDiff(want.Text, got), nil
}

// firstDiff names the first rendered line that differs.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d: Jinja2 %q, golava %q", i+1, w, g)
		}
	}
	return "same text, different YAML"
}

// TestLAVACompatDeviceTypes renders every device-type template of
// lava-server 2023.01 with a minimal dictionary and with a full one (plus
// a job context) through golava and through python3-jinja2: at least 95%
// must parse to the same YAML.
func TestLAVACompatDeviceTypes(t *testing.T) {
	t.Parallel()
	dir := lavaTemplates(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.jinja2"))
	if err != nil || len(files) < 300 {
		t.Fatalf("expected ~360 templates, found %d: %v", len(files), err)
	}
	py := startPyRenderer(t, dir)
	// LAVA's templates alone: golava's own qemu.jinja2 would win otherwise.
	r := &Renderer{dirs: []fs.FS{os.DirFS(dir)}, cache: map[string]string{}, found: map[string]bool{}}
	var cases []renderCase
	for _, f := range files {
		name := filepath.Base(f)
		ext := "{% extends '" + name + "' %}\n"
		cases = append(cases,
			renderCase{name + " (minimal)", ext + labCommands, nil},
			renderCase{name + " (full)", ext + fullDictionary, jobContext})
	}
	equal, byteEqual := 0, 0
	for _, c := range cases {
		eq, beq, why, err := compareRender(r, py, c)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if eq {
			equal++
		} else {
			t.Logf("differs: %s: %s", c.name, why)
		}
		if beq {
			byteEqual++
		}
	}
	rate := 100 * float64(equal) / float64(len(cases))
	t.Logf("device types: %d/%d renders parse to the same YAML as Jinja2 (%.2f%%), %d byte-equal", equal, len(cases), rate, byteEqual)
	if rate < 95 {
		t.Errorf("only %.2f%% of renders equal Jinja2's, want at least 95%%", rate)
	}
}
