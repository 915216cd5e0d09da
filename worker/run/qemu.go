package run

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"golava/pkg/jobdef"
)

func init() { bootMethods["qemu"] = buildQemuBoot }

// qemuCommand is the QEMU command line of a boot: the device's command,
// options and extra options, then the image_arg of every downloaded
// image with {label} replaced by its local path (as LAVA's CallQemuAction).
type qemuCommand struct {
	binary string
	args   []string
	// images are the image_arg templates by label, in deploy order.
	images []qemuImage
}

type qemuImage struct{ label, arg string }

// buildQemuBoot: start QEMU on a pty (its serial console on stdio), log in
// and put the test overlay on the guest. The QEMU process is the board:
// closing the connection at the end of the job powers it off.
func buildQemuBoot(j *Job, a jobdef.Action) (*Step, error) {
	q, err := j.qemuCommand(a)
	if err != nil {
		return nil, err
	}
	prompts, err := compilePrompts(stringsOf(a.Params["prompts"]), fmt.Sprintf("actions[%d].boot.prompts", a.Index))
	if err != nil {
		return nil, err
	}
	if len(prompts) == 0 && j.hasTestAfter(a.Index) {
		return nil, JobError("actions[%d].boot: Unable to identify boot prompts from job definition.", a.Index)
	}
	login, err := parseAutoLogin(a)
	if err != nil {
		return nil, err
	}
	failure, err := failurePattern(a)
	if err != nil {
		return nil, err
	}
	execute := j.step(a, "execute-qemu", "call qemu to boot the image",
		func(ctx context.Context, s *Step) error { return j.startQemu(s, q) })
	children := []*Step{j.step(a, "boot-qemu-image", "boot image using QEMU command line", nil, execute)}
	if len(prompts) > 0 {
		children = append(children, j.step(a, "auto-login-action", "automatically login after boot using job parameters and checking for messages.",
			func(ctx context.Context, s *Step) error { return j.autoLogin(ctx, s, login, prompts, failure) }))
		if j.hasTestAfter(a.Index) {
			children = append(children, j.step(a, "transfer-overlay", "transfer the test overlay over the console",
				func(ctx context.Context, s *Step) error { return j.transferOverlay(ctx, s.Name) }))
		}
	}
	return j.step(a, "boot-image-retry", "boot with retry", nil, children...), nil
}

// qemuCommand checks the job's arch against the device and collects the
// command line; the image paths are only known after the deploy.
func (j *Job) qemuCommand(a jobdef.Action) (*qemuCommand, error) {
	where := fmt.Sprintf("actions[%d].boot", a.Index)
	arch := stringOf(j.Def.Context["arch"])
	if arch == "" {
		return nil, JobError("%s: Missing 'arch' in job context", where)
	}
	avail := stringsOf(j.Device.Raw["available_architectures"])
	if len(avail) == 0 {
		return nil, ConfigError("Device lacks list of available architectures.")
	}
	if !slices.Contains(avail, arch) {
		return nil, JobError("Non existing architecture specified in context arch parameter. Please check the device configuration for available options.")
	}
	methods, _ := j.Device.Actions["boot"].(map[string]any)
	methods, _ = methods["methods"].(map[string]any)
	m, _ := methods["qemu"].(map[string]any)
	params, _ := m["parameters"].(map[string]any)
	if params == nil || stringOf(params["command"]) == "" {
		return nil, ConfigError("Invalid device configuration - missing parameters of the qemu boot method")
	}
	q := &qemuCommand{binary: stringOf(params["command"])}
	q.args = append(q.args, stringsOf(params["options"])...)
	q.args = append(q.args, stringsOf(params["extra"])...)
	for _, d := range j.Def.Actions {
		if d.Kind != "deploy" || d.Index > a.Index {
			continue
		}
		images, _ := d.Params["images"].(map[string]any)
		for _, label := range sortedKeys(images) {
			im, _ := images[label].(map[string]any)
			if arg := stringOf(im["image_arg"]); arg != "" {
				q.images = append(q.images, qemuImage{label: label, arg: arg})
			}
		}
	}
	return q, nil
}

// line renders the command with the downloaded files substituted.
func (q *qemuCommand) line(downloads map[string]string) (string, error) {
	bin, err := exec.LookPath(q.binary)
	if err != nil {
		return "", InfraError("Unable to find the QEMU binary %q: %v", q.binary, err)
	}
	parts := append([]string{bin}, q.args...)
	for _, im := range q.images {
		arg := im.arg
		for label, p := range downloads {
			arg = strings.ReplaceAll(arg, "{"+label+"}", p)
		}
		if strings.Contains(arg, "{"+im.label+"}") {
			return "", JobError("image %s was not downloaded before the qemu boot", im.label)
		}
		parts = append(parts, arg)
	}
	return strings.Join(parts, " "), nil
}

// startQemu runs QEMU as the job's connection: its stdio is the serial
// console of the guest.
func (j *Job) startQemu(s *Step, q *qemuCommand) error {
	line, err := q.line(j.Downloads)
	if err != nil {
		return err
	}
	if j.Console != nil {
		j.Console.Close()
		j.Console = nil
	}
	if out, err := exec.Command(q.binaryPath(), "--version").Output(); err == nil {
		if f := strings.Fields(string(out)); len(f) >= 4 {
			s.Extra = map[string]any{"qemu_version": f[3], "job_arch": stringOf(j.Def.Context["arch"])}
			j.Log.Infof("qemu, installed at version: %s", f[3])
		}
	}
	j.Log.Infof("Boot command: %s", line)
	c, err := Connect(line, j.Log)
	if err != nil {
		return err
	}
	c.SetCharacterDelay(j.charDelay("boot"))
	j.Console = c
	return nil
}

func (q *qemuCommand) binaryPath() string {
	if p, err := exec.LookPath(q.binary); err == nil {
		return p
	}
	return q.binary
}
