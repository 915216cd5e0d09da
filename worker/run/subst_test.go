package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
)

func TestBootSubstitutions(t *testing.T) {
	t.Parallel()
	dev := &devconf.Device{
		Parameters: map[string]any{"bootz": map[string]any{"kernel": "0x82000000", "ramdisk": "0x83000000", "dtb": "0x88000000"}},
		Actions:    map[string]any{"boot": map[string]any{"methods": map[string]any{"u-boot": map[string]any{"nfs": map[string]any{"commands": []any{"tftp {SERVER_IP}"}}}}}},
	}
	j := &Job{
		Device: dev, Def: &jobdef.Job{}, Dispatcher: map[string]any{"dispatcher_ip": "192.0.2.1"},
		Downloads: map[string]string{"kernel": "/srv/tftp/t1/kernel/zImage", "ramdisk": "/srv/tftp/t1/ramdisk/r.cpio.gz", "dtb": "/srv/tftp/t1/dtb/b.dtb"},
		tftpFiles: map[string]string{"kernel": "t1/kernel/zImage", "ramdisk": "t1/ramdisk/r.cpio.gz", "dtb": "t1/dtb/b.dtb"},
	}
	sub, err := j.bootSubstitutions("zimage")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"{SERVER_IP}": "192.0.2.1", "{KERNEL}": "t1/kernel/zImage", "{RAMDISK}": "t1/ramdisk/r.cpio.gz", "{DTB}": "t1/dtb/b.dtb",
		"{KERNEL_ADDR}": "0x82000000", "{BOOTX}": "bootz 0x82000000 0x83000000:${filesize} 0x88000000",
	}
	for k, v := range want {
		if sub[k] != v {
			t.Errorf("%s = %q, want %q", k, sub[k], v)
		}
	}
	got := substitute([]string{"tftp {KERNEL_ADDR} {KERNEL}", "{BOOTX}"}, sub)
	if got[0] != "tftp 0x82000000 t1/kernel/zImage" {
		t.Errorf("substitute: %q", got)
	}
	// Without a dispatcher_ip, commands naming {SERVER_IP} cannot run.
	j.Dispatcher = nil
	if _, err := j.bootSubstitutions(""); err == nil || !strings.Contains(err.Error(), "dispatcher_ip") {
		t.Errorf("no dispatcher ip: %v", err)
	}
}

func TestTFTPRootFromConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "tftpd-hpa")
	os.WriteFile(conf, []byte("TFTP_USERNAME=\"tftp\"\nTFTP_DIRECTORY=\"/var/lib/tftpboot\"\n"), 0o644)
	if got := TFTPRootFromConfig(conf); got != "/var/lib/tftpboot" {
		t.Errorf("root = %q", got)
	}
	if got := TFTPRootFromConfig(filepath.Join(dir, "missing")); got != DefaultTFTPRoot {
		t.Errorf("default root = %q", got)
	}
}

func TestQemuCommandErrors(t *testing.T) {
	t.Parallel()
	qemu := map[string]any{"boot": map[string]any{"methods": map[string]any{"qemu": map[string]any{"parameters": map[string]any{
		"command": "qemu-system-x86_64", "options": []any{"-accel tcg", "-m 256"}}}}}}
	tests := []struct {
		name    string
		ctx     map[string]any
		actions map[string]any
		arches  []any
		want    string
	}{
		{"no arch", nil, qemu, []any{"amd64"}, "Missing 'arch' in job context"},
		{"unknown arch", map[string]any{"arch": "mips"}, qemu, []any{"amd64"}, "Non existing architecture"},
		{"no architectures", map[string]any{"arch": "amd64"}, qemu, nil, "available architectures"},
		{"no method", map[string]any{"arch": "amd64"}, map[string]any{}, []any{"amd64"}, "missing parameters"},
	}
	for _, tt := range tests {
		j := &Job{Def: &jobdef.Job{Context: tt.ctx}, Device: &devconf.Device{Actions: tt.actions, Raw: map[string]any{"available_architectures": tt.arches}}}
		if _, err := j.qemuCommand(jobdef.Action{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	j := &Job{
		Def: &jobdef.Job{Context: map[string]any{"arch": "amd64"}, Actions: []jobdef.Action{{Index: 0, Kind: "deploy", Params: map[string]any{
			"images": map[string]any{"kernel": map[string]any{"image_arg": "-kernel {kernel}"}}}}}},
		Device: &devconf.Device{Actions: qemu, Raw: map[string]any{"available_architectures": []any{"amd64"}}},
	}
	q, err := j.qemuCommand(jobdef.Action{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	q.binary = "sh" // any binary on PATH
	line, err := q.line(map[string]string{"kernel": "/tmp/vmlinuz"})
	if err != nil || !strings.HasSuffix(line, "sh -accel tcg -m 256 -kernel /tmp/vmlinuz") {
		t.Errorf("line = %q, %v", line, err)
	}
	if _, err := q.line(nil); err == nil || !strings.Contains(err.Error(), "was not downloaded") {
		t.Errorf("missing image: %v", err)
	}
}
