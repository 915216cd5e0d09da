package devconf

import (
	"strings"
	"testing"
)

const sampleDevice = `
device_type: qemu
hostname: dut-01
character_delays:
  boot: 10
  test: 5
constants:
  posix:
    lava_test_results_dir: /lava-%s
commands:
  connect: telnet localhost 7001
  power_on: pduclient --port 1 --command on
  power_off: [pduclient --port 1 --command off, sleep 1]
  hard_reset:
  - pduclient --port 1 --command reboot
  pre_os_command: echo pre
  connections:
    uart0:
      connect: telnet localhost 7001
      tags: [primary, telnet]
actions:
  boot:
    methods:
      minimal:
timeouts:
  actions:
    auto-login-action:
      minutes: 2
`

func TestParse(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte(sampleDevice))
	if err != nil {
		t.Fatal(err)
	}
	if d.DeviceType != "qemu" || d.Hostname != "dut-01" {
		t.Errorf("names = %q %q", d.DeviceType, d.Hostname)
	}
	c := d.Commands
	if c.Connect != "telnet localhost 7001" {
		t.Errorf("connect = %q", c.Connect)
	}
	if len(c.PowerOn) != 1 || len(c.PowerOff) != 2 || len(c.HardReset) != 1 || len(c.PreOS) != 1 || c.PrePower != nil {
		t.Errorf("commands = %+v", c)
	}
	if got := c.Connections["uart0"]; got.Connect == "" || len(got.Tags) != 2 {
		t.Errorf("uart0 = %+v", got)
	}
	if d.CharacterDelays["boot"] != 10 || d.CharacterDelays["test"] != 5 {
		t.Errorf("delays = %v", d.CharacterDelays)
	}
	if d.Timeouts == nil || d.Actions == nil || d.Constants == nil {
		t.Errorf("raw blocks missing: %+v", d)
	}
	if got := d.ResultsDir("42"); got != "/lava-42" {
		t.Errorf("ResultsDir = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "empty"},
		{"comment only", "# nothing\n", "not a YAML mapping"},
		{"list", "- a\n", "not a YAML mapping"},
		{"syntax", "commands: [", "device configuration"},
		{"not a map", "commands: 3", "commands: expected a mapping"},
		{"bad list item", "commands:\n  power_on: [1]", "commands.power_on[0]: expected a string"},
		{"bad power", "commands:\n  power_off: {a: b}", "commands.power_off: expected a string or a list"},
		{"bad delay", "character_delays:\n  boot: fast", "character_delays.boot"},
		{"bad connection", "commands:\n  connections:\n    uart0: x", "commands.connections.uart0: expected a mapping"},
		{"bad timeouts", "timeouts: [1]", "timeouts: expected a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseDuplicateKeys(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte("commands:\n  connect: old\n  connect: new\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Commands.Connect != "new" {
		t.Errorf("connect = %q, want the last value", d.Commands.Connect)
	}
}

func TestResultsDirDefault(t *testing.T) {
	t.Parallel()
	d, err := Parse([]byte("parameters:\n  lava_test_results_dir: /tmp/r-%s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.ResultsDir("7"); got != "/tmp/r-7" {
		t.Errorf("got %q", got)
	}
	d, _ = Parse([]byte("hostname: x\n"))
	if got := d.ResultsDir("7"); got != "/lava-7" {
		t.Errorf("got %q", got)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleDevice))
	f.Add([]byte("commands:\n  connect: x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = Parse(data)
	})
}
