package run

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golava/pkg/jobdef"
)

// DefaultTFTPRoot is where Debian's tftpd-hpa serves files from when its
// configuration does not say otherwise.
const DefaultTFTPRoot = "/srv/tftp"

// TFTPRootFromConfig reads TFTP_DIRECTORY from tftpd-hpa's defaults file
// (/etc/default/tftpd-hpa), as LAVA finds its TFTP root.
func TFTPRootFromConfig(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return DefaultTFTPRoot
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && k == "TFTP_DIRECTORY" {
			if v = strings.Trim(v, `"'`); v != "" {
				return v
			}
		}
	}
	return DefaultTFTPRoot
}

func init() { deployMethods["tftp"] = buildTFTPDeploy }

// buildTFTPDeploy downloads the artifacts into a fresh folder of the TFTP
// root; the bootloader fetches them by their path relative to the root.
func buildTFTPDeploy(j *Job, a jobdef.Action) (*Step, error) {
	arts, err := artifactsOf(a)
	if err != nil {
		return nil, err
	}
	var dir string
	mkdir := j.step(a, "tftp-deploy", "download files and deploy using tftp", func(ctx context.Context, s *Step) error {
		root := j.tftpRoot()
		if j.tftpFiles == nil {
			j.tftpFiles = map[string]string{}
		}
		var err error
		if dir, err = os.MkdirTemp(root, "golava-"+j.ID+"-"); err != nil {
			return InfraError("Unable to create a folder in the TFTP root %s: %v", root, err)
		}
		// tftpd-hpa may run as its own user: the files must be readable.
		_ = os.Chmod(dir, 0o755)
		j.cleanups = append(j.cleanups, func() { _ = os.RemoveAll(dir) })
		return nil
	})
	children := []*Step{}
	for _, art := range arts {
		children = append(children, j.step(a, "download-retry", "download "+art.Key+" with retry",
			func(ctx context.Context, s *Step) error {
				p, err := download(ctx, j.Log, j.artifacts, art, filepath.Join(dir, art.Key))
				if err != nil {
					return err
				}
				_ = os.Chmod(p, 0o644)
				_ = os.Chmod(filepath.Dir(p), 0o755)
				j.Downloads[art.Key] = p
				rel, _ := filepath.Rel(j.tftpRoot(), p)
				j.tftpFiles[art.Key] = rel
				s.Extra = map[string]any{"label": art.Key, "url": art.URL, "path": rel}
				return nil
			}))
	}
	children = append(children, j.step(a, "lava-overlay", "add lava scripts during deployment for test shell use",
		func(ctx context.Context, s *Step) error { return j.buildOverlay(ctx) }))
	mkdir.Children = children
	return mkdir, nil
}

func (j *Job) tftpRoot() string {
	if j.TFTPRoot == "" {
		return DefaultTFTPRoot
	}
	return j.TFTPRoot
}

// dispatcherIP is the address the DUT reaches the worker at: the dispatcher
// configuration's dispatcher_tftp_ip or dispatcher_ip (LAVA's
// dispatcher_ip); without one the bootloader commands cannot name a server.
func (j *Job) dispatcherIP() (string, error) {
	for _, k := range []string{"dispatcher_tftp_ip", "dispatcher_ip"} {
		if ip := stringOf(j.Dispatcher[k]); ip != "" {
			return ip, nil
		}
	}
	return "", InfraError("Unable to find the dispatcher IP: set dispatcher_ip in the dispatcher configuration")
}

// bootSubstitutions are LAVA's placeholders in bootloader commands.
func (j *Job) bootSubstitutions(kernelType string) (map[string]string, error) {
	sub := map[string]string{}
	file := func(key string) string {
		if p, ok := j.tftpFiles[key]; ok {
			return p
		}
		return j.Downloads[key]
	}
	for ph, key := range map[string]string{"{KERNEL}": "kernel", "{RAMDISK}": "ramdisk", "{INITRD}": "ramdisk", "{DTB}": "dtb", "{TEE}": "tee"} {
		if p := file(key); p != "" {
			sub[ph] = p
		}
	}
	if p := file("initrd"); p != "" {
		sub["{RAMDISK}"], sub["{INITRD}"] = p, p
	}
	if strings.Contains(j.allBootCommands(), "{SERVER_IP}") {
		ip, err := j.dispatcherIP()
		if err != nil {
			return nil, err
		}
		sub["{SERVER_IP}"] = ip
	}
	bootx := map[string]string{"zimage": "bootz", "uimage": "bootm", "image": "booti"}[strings.ToLower(kernelType)]
	if bootx != "" {
		addrs, _ := j.Device.Parameters[bootx].(map[string]any)
		k, r, d := stringOf(addrs["kernel"]), stringOf(addrs["ramdisk"]), stringOf(addrs["dtb"])
		if _, ok := sub["{RAMDISK}"]; !ok {
			r = "-"
		} else if file("initrd") != "" || j.addHeader() != "u-boot" {
			r += ":${filesize}"
		}
		sub["{KERNEL_ADDR}"], sub["{RAMDISK_ADDR}"], sub["{DTB_ADDR}"] = k, stringOf(addrs["ramdisk"]), d
		sub["{BOOTX}"] = fmt.Sprintf("%s %s %s %s", bootx, k, r, d)
	}
	return sub, nil
}

func (j *Job) allBootCommands() string {
	var b strings.Builder
	for _, a := range j.Def.Actions {
		if a.Kind == "boot" {
			fmt.Fprint(&b, a.Params["commands"])
		}
	}
	m, _ := j.Device.Actions["boot"].(map[string]any)
	fmt.Fprint(&b, m)
	return b.String()
}

// kernelType is the type of the kernel the last deploy before boot index gave.
func (j *Job) kernelType(index int) string {
	t := ""
	for _, a := range j.Def.Actions {
		if a.Kind == "deploy" && a.Index < index {
			if k, ok := a.Params["kernel"].(map[string]any); ok {
				t = stringOf(k["type"])
			}
		}
	}
	return t
}

func substitute(cmds []string, sub map[string]string) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		for k, v := range sub {
			c = strings.ReplaceAll(c, k, v)
		}
		out[i] = c
	}
	return out
}

// addHeader is the device's deploy add_header (u-boot when the ramdisk
// carries a u-boot header, hence its size).
func (j *Job) addHeader() string {
	m, _ := j.Device.Actions["deploy"].(map[string]any)
	p, _ := m["parameters"].(map[string]any)
	return stringOf(p["add_header"])
}

// runCleanups removes what the job left on the host (TFTP folders).
func (j *Job) runCleanups() {
	for _, f := range j.cleanups {
		f()
	}
	j.cleanups = nil
}
