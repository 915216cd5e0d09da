package dutsim

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Socket and file names inside Config.Dir.
const (
	ControlSocket = "control.sock"
	ConsoleSocket = "console.sock"
	PowerLogFile  = "power.log"
	RootFSDir     = "fs"
)

// Defaults applied by Config.withDefaults.
const (
	DefaultName          = "dut-sim"
	DefaultAutobootDelay = time.Second
	DefaultBootLines     = 10
)

// maxSocketPath is the limit of sun_path on Linux (108 bytes with the NUL).
const maxSocketPath = 107

// Config describes one simulated board.
type Config struct {
	// Dir holds the sockets, power.log and the root file system. Keep it
	// short: unix socket paths must stay under 108 bytes.
	Dir string
	// Name is shown in the bootloader banner and the logs; default "dut-sim".
	Name string
	// AutobootDelay is the bootloader countdown; default 1s. Tests use ~100ms.
	AutobootDelay time.Duration
	// BootLines is how many kernel log lines are printed; default 10.
	BootLines int
	// Flags are the misbehaviours for the next power-on; Set changes them.
	Flags Flags
}

// Flags make the board misbehave, from the next power-on.
type Flags struct {
	// HangAtBoot prints some kernel lines and then nothing, ever.
	HangAtBoot bool `json:"hang_at_boot"`
	// Panic prints kernel lines, then a kernel panic, then nothing.
	Panic bool `json:"panic"`
	// DropConnection closes the console connection after the first kernel lines.
	DropConnection bool `json:"drop_connection"`
	// Garbage interleaves random non-UTF-8 and control bytes with boot output.
	Garbage bool `json:"garbage"`
	// SlowBytesPerSec throttles console output; 0 means unthrottled.
	SlowBytesPerSec int `json:"slow_bytes_per_sec"`
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.AutobootDelay <= 0 {
		c.AutobootDelay = DefaultAutobootDelay
	}
	if c.BootLines <= 0 {
		c.BootLines = DefaultBootLines
	}
	return c
}

func (c Config) validate() error {
	if c.Dir == "" {
		return errors.New("dutsim config: Dir is required")
	}
	if c.Flags.SlowBytesPerSec < 0 {
		return fmt.Errorf("dutsim config: slow bytes per second %d: must be >= 0", c.Flags.SlowBytesPerSec)
	}
	return checkSocketPaths(c.Dir)
}

// checkSocketPaths fails clearly instead of letting bind fail with EINVAL.
func checkSocketPaths(dir string) error {
	for _, name := range []string{ControlSocket, ConsoleSocket} {
		p := filepath.Join(dir, name)
		if len(p) > maxSocketPath {
			return fmt.Errorf("dutsim: socket path %q is %d bytes, over the unix limit of %d: use a shorter --dir",
				p, len(p), maxSocketPath)
		}
	}
	return nil
}

// settings are what Set may change on a running board.
type settings struct {
	Flags         Flags
	AutobootDelay time.Duration
	BootLines     int
}

// settingKeys lists the keys Set accepts (dashes or underscores).
var settingKeys = []string{"hang-at-boot", "panic", "drop-connection", "garbage", "slow", "autoboot-delay", "boot-lines"}

// applySettings returns s changed by kv, or an error naming the first bad
// key or value; s itself is never half-changed.
func applySettings(s settings, kv map[string]string) (settings, error) {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := applySetting(&s, k, kv[k]); err != nil {
			return s, err
		}
	}
	return s, nil
}

func applySetting(s *settings, key, value string) error {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "_", "-")
	value = strings.TrimSpace(value)
	var err error
	switch norm {
	case "hang-at-boot":
		s.Flags.HangAtBoot, err = strconv.ParseBool(value)
	case "panic":
		s.Flags.Panic, err = strconv.ParseBool(value)
	case "drop-connection":
		s.Flags.DropConnection, err = strconv.ParseBool(value)
	case "garbage":
		s.Flags.Garbage, err = strconv.ParseBool(value)
	case "slow", "slow-bytes-per-sec":
		s.Flags.SlowBytesPerSec, err = parseNonNegative(value)
	case "boot-lines":
		s.BootLines, err = parseNonNegative(value)
		if err == nil && s.BootLines == 0 {
			s.BootLines = DefaultBootLines
		}
	case "autoboot-delay":
		s.AutobootDelay, err = time.ParseDuration(value)
		if err == nil && s.AutobootDelay <= 0 {
			err = errors.New("must be > 0")
		}
	default:
		return fmt.Errorf("setting %q: unknown (known: %s)", key, strings.Join(settingKeys, ", "))
	}
	if err != nil {
		return fmt.Errorf("setting %s=%q: %w", key, value, err)
	}
	return nil
}

func parseNonNegative(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errors.New("not an integer")
	}
	if n < 0 {
		return 0, errors.New("must be >= 0")
	}
	return n, nil
}

// ParseSettings turns "name=value" arguments into a map for Set.
func ParseSettings(args []string) (map[string]string, error) {
	kv := make(map[string]string, len(args))
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("setting %q: want name=value", a)
		}
		kv[k] = v
	}
	if len(kv) == 0 {
		return nil, errors.New("no settings given: want name=value ...")
	}
	return kv, nil
}
