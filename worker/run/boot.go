package run

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
	"golava/worker/run/overlay"
)

// Messages LAVA watches for while logging in.
const (
	loginIncorrect = "Login incorrect"
	loginTimedOut  = "Login timed out"
)

var (
	kernelPanic     = regexp.MustCompile(`Kernel panic - not syncing`)
	loginIncorrectR = regexp.MustCompile(loginIncorrect)
	loginTimedOutR  = regexp.MustCompile(loginTimedOut)
	restOfLine      = regexp.MustCompile(`^[^\r\n]*[\r\n]`)
	// neverMatch holds the failure_message slot when there is none.
	neverMatch = regexp.MustCompile(`[^\x00-\x{10FFFF}]`)
)

// overlayChunk is the base64 text sent per command: well below the 4 KiB
// line limit of a tty in canonical mode and of busybox's line editor.
const overlayChunk = 512

// buildMinimalBoot: connect, power-cycle, log in, and put the test overlay
// on the DUT when tests follow.
func buildMinimalBoot(j *Job, a jobdef.Action) (*Step, error) {
	prompts, err := compilePrompts(stringsOf(a.Params["prompts"]), fmt.Sprintf("actions[%d].boot.prompts", a.Index))
	if err != nil {
		return nil, err
	}
	login, err := parseAutoLogin(a)
	if err != nil {
		return nil, err
	}
	children := []*Step{j.step(a, "connect-device", "use the configured command to connect serial to the device", j.connectRun)}
	if truthy(a.Params["pre_power_command"]) {
		children = append(children, j.step(a, "pre-power-command", "issue pre power command",
			func(ctx context.Context, s *Step) error {
				return runHostCommands(ctx, j.Log, j.Device.Commands.PrePower)
			}))
	}
	if truthy(a.Params["pre_os_command"]) {
		children = append(children, j.step(a, "pre-os-command", "issue pre os command",
			func(ctx context.Context, s *Step) error { return runHostCommands(ctx, j.Log, j.Device.Commands.PreOS) }))
	}
	if v, ok := a.Params["reset"]; !ok || truthy(v) {
		children = append(children, j.buildReset(a))
	}
	failure, err := failurePattern(a)
	if err != nil {
		return nil, err
	}
	if len(prompts) > 0 {
		children = append(children, j.step(a, "auto-login-action", "automatically login after boot using job parameters and checking for messages.",
			func(ctx context.Context, s *Step) error { return j.autoLogin(ctx, s, login, prompts, failure) }))
		if j.hasTestAfter(a.Index) {
			children = append(children, j.step(a, "transfer-overlay", "transfer the test overlay over the console",
				func(ctx context.Context, s *Step) error { return j.transferOverlay(ctx, s.Name) }))
		}
	}
	return j.step(a, "minimal-boot", "connect and reset device", nil, children...), nil
}

// failurePattern is the boot's failure_message: matched during boot, it
// ends the job at once.
func failurePattern(a jobdef.Action) (*regexp.Regexp, error) {
	msg := stringOf(a.Params["failure_message"])
	if msg == "" {
		return nil, nil
	}
	re, err := regexp.Compile(msg)
	if err != nil {
		return nil, JobError("actions[%d].boot.failure_message: %v", a.Index, err)
	}
	return re, nil
}

func truthy(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

type autoLogin struct {
	loginPrompt, username, passwordPrompt, password string
	commands                                        []string
}

func parseAutoLogin(a jobdef.Action) (*autoLogin, error) {
	m, ok := a.Params["auto_login"].(map[string]any)
	if !ok {
		return nil, nil
	}
	l := &autoLogin{
		loginPrompt: stringOf(m["login_prompt"]), username: stringOf(m["username"]),
		passwordPrompt: stringOf(m["password_prompt"]), password: stringOf(m["password"]),
		commands: stringsOf(m["login_commands"]),
	}
	where := fmt.Sprintf("actions[%d].boot.auto_login", a.Index)
	if l.loginPrompt == "" || l.username == "" {
		return nil, JobError("%s: login_prompt and username are mandatory", where)
	}
	for _, p := range []string{l.loginPrompt, l.passwordPrompt} {
		if _, err := regexp.Compile(p); err != nil {
			return nil, JobError("%s: invalid prompt %q: %v", where, p, err)
		}
	}
	return l, nil
}

func (j *Job) hasTestAfter(index int) bool {
	for _, a := range j.Def.Actions {
		// Interactive tests and monitors need no overlay on the DUT.
		if _, defs := a.Params["definitions"]; a.Index > index && a.Kind == "test" && defs {
			return true
		}
	}
	return false
}

func (j *Job) connectRun(ctx context.Context, s *Step) error {
	conn := j.primaryConnection()
	if conn.Connect == "" && conn.Serial == nil {
		return JobError("Unable to connect to the device: no connect command in the device configuration")
	}
	if j.Console != nil {
		j.Console.Close()
		j.Console = nil
	}
	var (
		c   *Console
		err error
	)
	if conn.Serial != nil {
		j.Log.Infof("[%s] connect-device Connecting to device using serial port %s at %d baud", s.ns(), conn.Serial.Port, conn.Serial.Baud)
		c, err = ConnectSerial(conn.Serial, j.Log)
	} else {
		j.Log.Infof("[%s] connect-device Connecting to device using '%s'", s.ns(), conn.Connect)
		c, err = Connect(conn.Connect, j.Log)
	}
	if err != nil {
		return err
	}
	c.SetCharacterDelay(j.charDelay("boot"))
	j.Console = c
	return nil
}

// primaryConnection is commands.connect, else the connection tagged
// primary (LAVA's connection_list with connection_tags), else the only one.
func (j *Job) primaryConnection() devconf.Connection {
	cmds := j.Device.Commands
	if cmds.Connect != "" {
		return devconf.Connection{Connect: cmds.Connect}
	}
	for _, c := range cmds.Connections {
		if slices.Contains(c.Tags, "primary") {
			return c
		}
	}
	if len(cmds.Connections) == 1 {
		for _, c := range cmds.Connections {
			return c
		}
	}
	return devconf.Connection{}
}

func (j *Job) autoLogin(ctx context.Context, s *Step, l *autoLogin, prompts []*regexp.Regexp, failure *regexp.Regexp) error {
	c := j.Console
	if c == nil {
		return Bug("auto-login-action started without a connection")
	}
	j.Prompts = prompts
	if l == nil {
		j.Log.Debugf("No login prompt set.")
		return j.waitBoot(ctx, s, failure, prompts)
	}
	j.Log.Infof("Waiting for the login prompt")
	if err := j.waitBoot(ctx, s, failure, []*regexp.Regexp{regexp.MustCompile(l.loginPrompt)}); err != nil {
		return err
	}
	j.Log.Debugf("Sending username %s", l.username)
	if err := c.SendLine(ctx, l.username); err != nil {
		return err
	}
	if l.passwordPrompt != "" {
		j.Log.Infof("Waiting for password prompt")
		idx, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(l.passwordPrompt), loginTimedOutR})
		if err != nil {
			return err
		}
		if idx == 1 {
			return JobError("Password prompt not matched, please update the job definition with the correct one.")
		}
		j.Log.Debugf("Sending password %s", l.password)
		if err := c.SendLine(ctx, l.password); err != nil {
			return err
		}
	}
	idx, err := c.Expect(ctx, append([]*regexp.Regexp{loginIncorrectR, loginTimedOutR}, prompts...))
	if err != nil {
		return err
	}
	switch idx {
	case 0:
		return JobError(loginIncorrect)
	case 1:
		return JobError(loginTimedOut)
	}
	for _, cmd := range l.commands {
		if err := c.SendLine(ctx, cmd); err != nil {
			return err
		}
		if err := j.waitPrompt(ctx, s.Name); err != nil {
			return err
		}
	}
	s.Extra = map[string]any{"success": "login"}
	return nil
}

// waitBoot waits for one of want and fails fast on a kernel panic (a
// JobError, as LAVA's kernel-messages check) or the job's failure_message.
func (j *Job) waitBoot(ctx context.Context, s *Step, failure *regexp.Regexp, want []*regexp.Regexp) error {
	patterns := []*regexp.Regexp{kernelPanic, neverMatch}
	if failure != nil {
		patterns[1] = failure
	}
	idx, err := j.Console.Expect(ctx, append(patterns, want...))
	switch {
	case err != nil:
		return err
	case idx == 1:
		halt := fmt.Sprintf("Matched job-specific failure message: '%s'", failure)
		j.Log.Errorf("%s %s", s.Name, halt)
		return JobError("%s", halt)
	case idx > 1:
		return nil
	}
	msg := "Kernel panic - not syncing"
	// The rest of the panic line usually follows at once; wait briefly.
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, rest, err := j.Console.ExpectText(lctx, []*regexp.Regexp{restOfLine}); err == nil {
		msg += strings.TrimRight(rest, "\r\n")
	}
	j.Log.Errorf("%s kernel 'panic'", s.Name)
	s.Extra = map[string]any{"fail": []any{map[string]any{"kind": "panic", "message": msg}}}
	return JobError("%s", msg)
}

// transferOverlay writes the overlay tarball to the DUT over the console
// as base64 in chunks, unpacks it and checks a marker the DUT computes
// (the echo of the command cannot contain it).
func (j *Job) transferOverlay(ctx context.Context, action string) error {
	if j.OverlayOnDevice {
		return nil
	}
	if err := j.buildOverlay(ctx); err != nil {
		return err
	}
	c := j.Console
	c.SetCharacterDelay(j.charDelay("test"))
	file := j.Overlay.ResultsDir + ".tgz.b64"
	if err := j.shellCommand(ctx, action, "rm -f "+overlay.Quote(file)); err != nil {
		return err
	}
	text := base64.StdEncoding.EncodeToString(j.OverlayData)
	j.Log.Infof("Transferring overlay (%d bytes) to %s", len(j.OverlayData), j.Overlay.ResultsDir)
	for off := 0; off < len(text); off += overlayChunk {
		chunk := text[off:min(off+overlayChunk, len(text))]
		if err := j.shellCommand(ctx, action, "printf %s '"+chunk+"' >> "+overlay.Quote(file)); err != nil {
			return err
		}
	}
	c.Flush()
	cmd := "base64 -d " + overlay.Quote(file) + " | tar -C / -xzf - && rm -f " + overlay.Quote(file) +
		" && echo LAVA_OVERLAY_$((40+2))_OK || echo LAVA_OVERLAY_$((40+2))_FAILED"
	if err := c.SendLine(ctx, cmd); err != nil {
		return err
	}
	idx, err := c.Expect(ctx, []*regexp.Regexp{regexp.MustCompile(`LAVA_OVERLAY_42_OK`), regexp.MustCompile(`LAVA_OVERLAY_42_FAILED`)})
	if err != nil {
		return err
	}
	if idx == 1 {
		return JobError("Unable to unpack the test overlay on the DUT (needs base64 and tar with gzip)")
	}
	if err := j.waitPrompt(ctx, action); err != nil {
		return err
	}
	j.OverlayOnDevice = true
	return nil
}

// shellCommand sends one command and waits for the prompt after it.
func (j *Job) shellCommand(ctx context.Context, action, cmd string) error {
	j.Console.Flush()
	if err := j.Console.SendLine(ctx, cmd); err != nil {
		return err
	}
	return j.waitPrompt(ctx, action)
}

// waitPrompt waits for a shell prompt within the connection timeout of
// the action (LAVA's per-operation timeout on a shell connection).
func (j *Job) waitPrompt(ctx context.Context, action string) error {
	d := j.Timeouts.ForConnection(action)
	cctx, cancel := context.WithTimeoutCause(ctx, d, JobError("wait for prompt timed out after %d seconds", int(d.Seconds())))
	defer cancel()
	_, err := j.Console.Expect(cctx, j.Prompts)
	return err
}
