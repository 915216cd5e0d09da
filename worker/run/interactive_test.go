package run

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"golava/worker/dutsim"
)

const interactiveJob = `job_name: interactive and monitors
device_type: dut-sim
visibility: public
timeouts:
  job: {minutes: 2}
  action: {seconds: 30}
actions:
- boot:
    method: minimal
- test:
    interactive:
    - name: uboot
      prompts: ['=> ']
      script:
      - name: autoboot
        command: null
        # The countdown too: under load the console client may attach
        # after the board printed the first line of it.
        successes: [{message: 'Hit any key to stop autoboot|\x08\x08\x08 [1-9] '}]
        wait_for_prompt: false
      - command: ' '
      - command: null
      - name: version
        command: version
        successes: [{message: 'U-Boot (?P<ver>[0-9.]+) \(dut-sim\)'}]
      - name: substituted
        command: echo golava-{ver}-ok
        successes: [{message: '\ngolava-2023\.01-ok'}]
      - name: unknown
        command: nosuchcommand
        failures: [{message: 'Unknown command'}]
      - command: setenv bootargs console=ttyAMA0
      - command: boot
        wait_for_prompt: false
        successes: [{message: 'Starting kernel'}]
- test:
    monitors:
    - name: kernel-model
      start: Booting Linux
      end: Kernel command line
      pattern: '(?P<test_case_id>Machine model): golava (?P<result>dut-sim)'
      fixupdict: {dut-sim: pass}
    - name: memory
      start: 'console=ttyAMA0'
      end: 'login:'
      pattern: '(?P<test_case_id>Memory): (?P<measurement>[0-9]+)K/'
`

// TestInteractiveAndMonitors drives dut-sim's U-Boot with an interactive
// test (successes with groups, substitutions, failures, null commands),
// then watches the kernel boot with monitors.
func TestInteractiveAndMonitors(t *testing.T) {
	t.Parallel()
	board := startBoardDelay(t, dutsim.Flags{}, 3*time.Second)
	cfg := dutsimConfig(t, board, 60, "")
	out := cfg.Stdout.(*logBuffer)
	write(t, cfg.JobPath, interactiveJob)
	res := Run(context.Background(), cfg)
	recs := out.records(t)
	if res.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", res, dump(recs))
	}
	got := results(recs)
	for k, v := range map[string]string{
		"0_uboot/autoboot": "pass", "0_uboot/version": "pass", "0_uboot/substituted": "pass",
		"0_uboot/unknown": "fail", "lava/0_uboot": "pass",
		"kernel-model/machine_model": "pass", "memory/memory": "pass",
	} {
		if got[k] == nil || got[k]["result"] != v {
			t.Errorf("%s = %v, want %s", k, got[k], v)
		}
	}
	if m := got["memory/memory"]; m == nil || fmt.Sprint(m["measurement"]) != "1012480" {
		t.Errorf("monitor measurement: %v", m)
	}
}

// TestInteractiveFailures: a failure with an exception ends the job with
// that error class; a quiet console ends as a test timeout.
func TestInteractiveFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, script, wantType, wantMsg string
	}{
		{"exception", `      - command: nosuchcommand
        failures: [{message: 'Unknown command', exception: InfrastructureError, error: 'no such command'}]
`, TypeInfrastructure, "no such command"},
		{"unnamed command fails", `      - command: version
        successes: [{message: 'never printed'}]
`, TypeTest, "Failed to run command 'version'"},
		{"timeout", `      - command: null
        successes: [{message: 'nothing comes'}]
`, TypeTest, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			board := startBoardDelay(t, dutsim.Flags{}, 3*time.Second)
			cfg := dutsimConfig(t, board, 60, "")
			job := strings.SplitAfter(interactiveJob, "      - command: null\n")[0] + tt.script
			job = strings.Replace(job, "action: {seconds: 30}", "action: {seconds: 8}", 1)
			write(t, cfg.JobPath, job)
			res := Run(context.Background(), cfg)
			if res.Result != "fail" || res.ErrorType != tt.wantType || !strings.Contains(res.ErrorMsg, tt.wantMsg) {
				t.Fatalf("outcome %+v\n%s", res, dump(cfg.Stdout.(*logBuffer).records(t)))
			}
		})
	}
}
