package run

import (
	"context"

	"golava/pkg/jobdef"
)

// buildReset is LAVA's reset-device: power-off then power-on when the
// device has a power_on command, else pdu-reboot (hard_reset). Each power
// step has its own timeout (timeouts.actions.power-on...) and, as LAVA's
// power actions, a timeout or a failing command is an InfrastructureError;
// the boot action's failure_retry runs the whole boot again.
func (j *Job) buildReset(a jobdef.Action) *Step {
	cmds := j.Device.Commands
	power := func(name, desc string, commands []string) *Step {
		s := j.step(a, name, desc, func(ctx context.Context, s *Step) error {
			return runHostCommands(ctx, j.Log, commands)
		})
		s.TimeoutType = TypeInfrastructure
		return s
	}
	var children []*Step
	switch {
	case len(cmds.PowerOn) > 0:
		children = []*Step{
			power("power-off", "discontinue power to device", cmds.PowerOff),
			power("power-on", "supply power to device", cmds.PowerOn),
		}
	case len(cmds.HardReset) > 0:
		children = []*Step{power("pdu-reboot", "issue commands to a PDU to power cycle a device", cmds.HardReset)}
	default:
		return j.step(a, "reset-device", "reboot or power-cycle the device", func(ctx context.Context, s *Step) error {
			return ConfigError("device has neither power_on nor hard_reset commands")
		})
	}
	return j.step(a, "reset-device", "reboot or power-cycle the device", nil, children...)
}
