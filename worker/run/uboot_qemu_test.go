package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golava/worker/run/runtest"
)

// ubootFirmware is Debian's u-boot-qemu build for an x86 QEMU board (the
// 32-bit one: zboot of the 64-bit build resets the machine).
const ubootFirmware = "/usr/lib/u-boot/qemu-x86/u-boot.rom"

// qemuUBootDevice is a board whose console is QEMU running U-Boot: the
// connection starts the machine, U-Boot fetches the kernel and the
// ramdisk from tftpd-hpa (through QEMU's user network) and boots them.
const qemuUBootDevice = `device_type: qemu-uboot
constants:
  posix:
    lava_test_results_dir: /lava-%%s
    lava_test_sh_cmd: /bin/sh
  u-boot:
    error-messages: ['TFTP error', 'Retry count exceeded', 'Bad Linux x86 image']
commands:
  connect: qemu-system-x86_64 -accel tcg -m 512 -nographic -monitor none -bios %s -netdev user,id=n0 -device e1000,netdev=n0
  hard_reset: 'true'
actions:
  deploy:
    methods: {tftp: {}}
  boot:
    methods:
      u-boot:
        parameters:
          bootloader_prompt: '=>'
          interrupt_prompt: 'Hit any key to stop autoboot'
          interrupt_char: ' '
          boot_message: 'Starting kernel'
        ramdisk:
          commands:
          - setenv autoload no
          - setenv tftpblocksize 1468
          - dhcp
          - setenv serverip {SERVER_IP}
          - tftpboot 0x1000000 {KERNEL}
          - tftpboot 0x4000000 {RAMDISK}
          - setenv bootargs console=ttyS0,115200 quiet
          - zboot 0x1000000 0 0x4000000 ${filesize}
timeouts:
  connection: {minutes: 2}
`

const qemuUBootJob = `job_name: u-boot on qemu over tftp
device_type: qemu-uboot
visibility: public
timeouts:
  job: {minutes: 8}
  action: {minutes: 4}
actions:
- deploy:
    to: tftp
    kernel: {url: 'file://%s'}
    ramdisk: {url: 'file://%s'}
- boot:
    method: u-boot
    commands: ramdisk
    prompts: ['lava-test: # ']
- test:
    definitions:
    - from: inline
      name: uboot-smoke
      path: inline/uboot-smoke.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: uboot-smoke}
        run:
          steps:
          - lava-test-case kernel-cmdline --shell grep -q console=ttyS0 /proc/cmdline
          - lava-test-case busybox --shell test -x /bin/busybox
`

// TestRunUBootQemu: Debian's U-Boot in QEMU, autoboot interrupted, kernel
// and ramdisk over TFTP from a tftpd-hpa this test runs, then the shell.
func TestRunUBootQemu(t *testing.T) {
	t.Parallel()
	for _, bin := range []string{"qemu-system-x86_64", runtest.TftpdBinary} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is required (scripts/install-deps.sh test): %v", bin, err)
		}
	}
	if _, err := os.Stat(ubootFirmware); err != nil {
		t.Fatalf("u-boot-qemu is required (scripts/install-deps.sh test): %v", err)
	}
	dir := t.TempDir()
	kernel, err := runtest.Kernel()
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := runtest.Initramfs(dir)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "tftp")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tftpd, err := runtest.StartTftpd(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tftpd.Stop()
	write(t, filepath.Join(dir, "device.yaml"), fmt.Sprintf(qemuUBootDevice, ubootFirmware))
	write(t, filepath.Join(dir, "job.yaml"), fmt.Sprintf(qemuUBootJob, kernel, initrd))
	write(t, filepath.Join(dir, "dispatcher.yaml"), "dispatcher_ip: 127.0.0.1\n")
	out := &logBuffer{matched: make(chan struct{})}
	cfg := Config{
		JobPath: filepath.Join(dir, "job.yaml"), DevicePath: filepath.Join(dir, "device.yaml"),
		DispatcherPath: filepath.Join(dir, "dispatcher.yaml"), TFTPRoot: root,
		OutputDir: filepath.Join(dir, "out"), JobID: "9", Stdout: out, Stderr: &bytes.Buffer{},
		CleanupTimeout: 20 * time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	res := Run(ctx, cfg)
	recs := out.records(t)
	if res.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", res, dump(recs))
	}
	got := results(recs)
	for _, k := range []string{"0_uboot-smoke/kernel-cmdline", "0_uboot-smoke/busybox", "lava/bootloader-interrupt", "lava/bootloader-commands", "lava/tftp-deploy"} {
		if got[k] == nil || got[k]["result"] != "pass" {
			t.Errorf("result %s = %v", k, got[k])
		}
	}
	log := dump(recs)
	for _, want := range []string{"TFTP from server 127.0.0.1", "tftpboot 0x1000000 golava-9-"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if left, _ := os.ReadDir(root); len(left) != 0 {
		t.Errorf("the TFTP folder was not cleaned: %v", left)
	}
}
