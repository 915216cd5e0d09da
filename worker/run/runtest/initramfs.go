package runtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// BusyboxPath is the static busybox Debian's busybox-static installs.
const BusyboxPath = "/bin/busybox"

// Prompt is the shell prompt of the initramfs's shell.
const Prompt = "lava-test: # "

// initScript mounts the kernel filesystems, installs the busybox applets
// and runs a shell with a controlling tty on the console (ttyS0 or
// ttyAMA0 as the kernel command line says).
const initScript = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /sbin /usr/bin /usr/sbin /root
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "golava initramfs: busybox shell"
export HOME=/root PATH=/sbin:/usr/sbin:/bin:/usr/bin PS1='` + Prompt + `'
cd /root
while true; do setsid cttyhack sh; done
`

// Initramfs writes a gzip-compressed newc cpio with busybox and an /init
// to dir/initramfs.cpio.gz and returns its path.
func Initramfs(dir string) (string, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return "", fmt.Errorf("initramfs: read busybox (install busybox-static): %w", err)
	}
	var w cpioWriter
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp", "root", "etc"} {
		w.add(d, 0o040755, nil)
	}
	w.add("bin/busybox", 0o100755, bb)
	w.add("bin/sh", 0o120777, []byte("busybox"))
	w.add("init", 0o100755, []byte(initScript))
	w.add("etc/passwd", 0o100644, []byte("root:x:0:0:root:/root:/bin/sh\n"))
	w.add("TRAILER!!!", 0, nil)
	var out bytes.Buffer
	gz := gzip.NewWriter(&out)
	if _, err := gz.Write(w.buf.Bytes()); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "initramfs.cpio.gz")
	if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	return p, nil
}

// cpioWriter writes the "newc" (SVR4, no CRC) format the kernel unpacks.
type cpioWriter struct {
	buf bytes.Buffer
	ino int
}

func (w *cpioWriter) add(name string, mode int, data []byte) {
	w.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	fmt.Fprintf(&w.buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		w.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	w.buf.WriteString(name)
	w.buf.WriteByte(0)
	w.pad()
	w.buf.Write(data)
	w.pad()
}

func (w *cpioWriter) pad() {
	for w.buf.Len()%4 != 0 {
		w.buf.WriteByte(0)
	}
}

// Kernel returns the newest Debian kernel image under /boot.
func Kernel() (string, error) {
	m, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(m) == 0 {
		return "", fmt.Errorf("no /boot/vmlinuz-*: install linux-image-amd64")
	}
	sort.Strings(m)
	return m[len(m)-1], nil
}
