package run

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"golava/pkg/jobdef"
)

// ubootParams are the bootloader settings of the device's u-boot method.
type ubootParams struct {
	bootloaderPrompt, interruptPrompt, interruptChar, bootMessage string
	commands                                                      []string
	index                                                         int
	errors                                                        []*regexp.Regexp
}

func init() { bootMethods["u-boot"] = buildUBoot }

// buildUBoot: connect, power-cycle, interrupt U-Boot, type the boot
// commands, then log in as the minimal boot does. Commands come from the
// job (a list) or from the device's u-boot method (a named set).
func buildUBoot(j *Job, a jobdef.Action) (*Step, error) {
	p, err := j.ubootParams(a)
	if err != nil {
		return nil, err
	}
	minimal, err := buildMinimalBoot(j, a)
	if err != nil {
		return nil, err
	}
	// Reuse connect/reset and login; insert the bootloader steps after reset.
	var children []*Step
	for _, c := range minimal.Children {
		children = append(children, c)
		if c.Name == "reset-device" {
			children = append(children,
				j.step(a, "bootloader-interrupt", "interrupt bootloader", func(ctx context.Context, s *Step) error { return j.ubootInterrupt(ctx, s, p) }),
				j.step(a, "bootloader-commands", "send commands to bootloader", func(ctx context.Context, s *Step) error { return j.ubootCommands(ctx, s, p) }))
		}
	}
	return j.step(a, "uboot-action", "interactive uboot action", nil, children...), nil
}

func (j *Job) ubootParams(a jobdef.Action) (*ubootParams, error) {
	methods, _ := j.Device.Actions["boot"].(map[string]any)
	methods, _ = methods["methods"].(map[string]any)
	m, ok := methods["u-boot"].(map[string]any)
	if !ok {
		return nil, JobError("actions[%d].boot: the device has no u-boot boot method", a.Index)
	}
	params, _ := m["parameters"].(map[string]any)
	p := &ubootParams{
		bootloaderPrompt: stringOf(params["bootloader_prompt"]), interruptPrompt: stringOf(params["interrupt_prompt"]),
		interruptChar: stringOf(params["interrupt_char"]), bootMessage: stringOf(params["boot_message"]),
		index: a.Index,
	}
	if p.bootloaderPrompt == "" || p.interruptPrompt == "" {
		return nil, ConfigError("device u-boot method: bootloader_prompt and interrupt_prompt are required")
	}
	if p.bootMessage == "" {
		p.bootMessage = "Starting kernel"
	}
	switch cmds := a.Params["commands"].(type) {
	case []any:
		p.commands = stringsOf(cmds)
	case string:
		set, _ := m[cmds].(map[string]any)
		p.commands = stringsOf(set["commands"])
		if len(p.commands) == 0 {
			return nil, JobError("actions[%d].boot.commands: %q not found in the device's u-boot method", a.Index, cmds)
		}
	default:
		return nil, JobError("actions[%d].boot.commands: a list of commands or the name of a device command set is required", a.Index)
	}
	for _, e := range stringsOf(j.constant("u-boot", "error-messages")) {
		re, err := regexp.Compile(regexp.QuoteMeta(e))
		if err == nil {
			p.errors = append(p.errors, re)
		}
	}
	return p, nil
}

func (j *Job) ubootInterrupt(ctx context.Context, s *Step, p *ubootParams) error {
	c := j.Console
	if c == nil {
		return Bug("%s started without a connection", s.Name)
	}
	if _, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(p.interruptPrompt))}); err != nil {
		return err
	}
	if err := c.SendLine(ctx, p.interruptChar); err != nil {
		return err
	}
	_, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(regexp.QuoteMeta(p.bootloaderPrompt))})
	return err
}

// ubootCommands types each command at the bootloader prompt and waits for
// the kernel to start; a bootloader error message is an InfrastructureError.
func (j *Job) ubootCommands(ctx context.Context, s *Step, p *ubootParams) error {
	c := j.Console
	prompt := regexp.MustCompile(regexp.QuoteMeta(p.bootloaderPrompt))
	final := regexp.MustCompile(regexp.QuoteMeta(p.bootMessage))
	sub, err := j.bootSubstitutions(j.kernelType(p.index))
	if err != nil {
		return err
	}
	cmds := substitute(p.commands, sub)
	j.Log.Debugf("Parsed boot commands: %s", strings.Join(cmds, "; "))
	for i, cmd := range cmds {
		if err := c.SendLine(ctx, cmd); err != nil {
			return err
		}
		want := prompt
		if i == len(cmds)-1 {
			want = final
		}
		// The echo of the command first: a prompt printed before it (an
		// extra newline of the interrupt) must not answer this command.
		echo := regexp.MustCompile(regexp.QuoteMeta(cmd))
		if _, err := c.Expect(ctx, []*regexp.Regexp{echo}); err != nil {
			return err
		}
		idx, err := c.Expect(ctx, append([]*regexp.Regexp{want}, p.errors...))
		if err != nil {
			return err
		}
		if idx > 0 {
			return InfraError("matched a bootloader error message: '%s' (%d)", p.errors[idx-1], idx)
		}
	}
	s.Extra = map[string]any{"commands": fmt.Sprint(len(p.commands))}
	return nil
}
