package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
	"golava/worker/run/overlay"
)

func TestEnvDUTAndSecrets(t *testing.T) {
	t.Setenv("GOLAVA_FROM_WORKER", "worker-value")
	t.Setenv("GOLAVA_REMOVED", "gone")
	t.Setenv("LAVA_TOKEN", "job-token")
	tests := []struct {
		name, envDUT string
		want         map[string]string
		absent       []string
	}{
		{"overrides", "overrides: {GREETING: hello}\nremoves: [GOLAVA_REMOVED]\n",
			map[string]string{"GREETING": "hello", "GOLAVA_FROM_WORKER": "worker-value", "API_KEY": "s3cret"},
			[]string{"GOLAVA_REMOVED", "LAVA_TOKEN"}},
		{"purge", "purge: true\noverrides: {GREETING: hello}\n",
			map[string]string{"GREETING": "hello", "API_KEY": "s3cret"},
			[]string{"GOLAVA_FROM_WORKER", "LAVA_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Job{ID: "5", Device: &devconf.Device{}, Def: &jobdef.Job{Secrets: map[string]any{"API_KEY": "s3cret"}}}
			if err := j.planOverlay(); err != nil {
				t.Fatal(err)
			}
			if err := j.applyEnvDUT([]byte(tt.envDUT), "env-dut.yaml"); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got := j.Overlay.Secrets[k]; got != v {
					t.Errorf("secrets[%s] = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := j.Overlay.Secrets[k]; ok {
					t.Errorf("secrets has %s", k)
				}
			}
			if j.Overlay.Environment["GREETING"] != "hello" || j.Overlay.Environment["GOLAVA_FROM_WORKER"] != "" {
				t.Errorf("exported environment: %v", j.Overlay.Environment)
			}
			data, err := overlay.Build(j.Overlay)
			if err != nil {
				t.Fatal(err)
			}
			secrets := tarFile(t, data, "lava-5/secrets")
			if !strings.Contains(secrets, "API_KEY='s3cret'\n") || strings.Contains(secrets, "job-token") {
				t.Errorf("secrets file:\n%s", secrets)
			}
		})
	}
	if err := (&Job{}).applyEnvDUT([]byte("overrides: [not, a, map]"), "env-dut.yaml"); err == nil || !strings.Contains(err.Error(), "env-dut.yaml") {
		t.Errorf("bad env-dut: %v", err)
	}
}

func tarFile(t *testing.T, tgz []byte, name string) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the overlay: %v", name, err)
		}
		if h.Name == name {
			if h.Mode&0o077 != 0 {
				t.Errorf("%s mode %o", name, h.Mode)
			}
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}
