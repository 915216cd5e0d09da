package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	t.Parallel()
	args := []string{"--device=/d/device.yaml", "--dispatcher=/d/dispatcher.yaml", "--output-dir=/d",
		"--job-id=12", "--url=http://srv", "--token=tok", "--job-log-interval=7", "--debug",
		"/d/job.yaml", "--env-dut=/d/env-dut.yaml"}
	cfg, err := parseArgs(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JobPath != "/d/job.yaml" || cfg.EnvDUTPath != "/d/env-dut.yaml" || cfg.DevicePath != "/d/device.yaml" ||
		cfg.OutputDir != "/d" || cfg.JobID != "12" || cfg.URL != "http://srv" || cfg.Token != "tok" ||
		cfg.LogInterval != 7*time.Second || !cfg.Debug {
		t.Fatalf("cfg = %+v", cfg)
	}
}

func TestParseArgsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no job", []string{"--device=d", "--output-dir=o", "--job-id=1"}, "exactly one job definition"},
		{"two jobs", []string{"--device=d", "--output-dir=o", "--job-id=1", "a", "b"}, "exactly one job definition"},
		{"no device", []string{"--output-dir=o", "--job-id=1", "j"}, "--device is required"},
		{"unknown flag", []string{"--bogus", "j"}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseArgs(tt.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMainUsageError(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := Main([]string{"--job-id=1"}, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), "lava-run:") {
		t.Fatalf("code %d stderr %q", code, stderr.String())
	}
}
