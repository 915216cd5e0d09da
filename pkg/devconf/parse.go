package devconf

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// MaxConfigBytes bounds what Parse reads: a rendered device configuration is
// a few kilobytes, so anything far larger is garbage.
const MaxConfigBytes = 4 << 20

// ErrEmpty reports a device configuration without any mapping.
var ErrEmpty = errors.New("empty device configuration")

// Parse reads a rendered device configuration (the YAML lava-run receives as
// device.yaml). Commands given as a string or a list both become lists.
func Parse(data []byte) (*Device, error) {
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("device configuration: %d bytes exceeds %d", len(data), MaxConfigBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	// DecodeYAML keeps the last of duplicate keys, as PyYAML does.
	raw, err := DecodeYAML(data)
	if err != nil {
		return nil, err
	}
	d := &Device{Raw: raw}
	if d.Hostname, err = optString(raw, "hostname"); err != nil {
		return nil, err
	}
	if d.DeviceType, err = optString(raw, "device_type"); err != nil {
		return nil, err
	}
	blocks := []struct {
		key string
		dst *map[string]any
	}{
		{"parameters", &d.Parameters}, {"constants", &d.Constants},
		{"actions", &d.Actions}, {"timeouts", &d.Timeouts},
	}
	for _, b := range blocks {
		if *b.dst, err = optMap(raw, b.key, b.key); err != nil {
			return nil, err
		}
	}
	if d.CharacterDelays, err = parseDelays(raw); err != nil {
		return nil, err
	}
	if d.Commands, err = parseCommands(raw); err != nil {
		return nil, err
	}
	return d, nil
}

func parseDelays(raw map[string]any) (map[string]int, error) {
	m, err := optMap(raw, "character_delays", "character_delays")
	if err != nil || m == nil {
		return nil, err
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		n, err := toInt(v)
		if err != nil {
			return nil, fmt.Errorf("character_delays.%s: %w", k, err)
		}
		out[k] = n
	}
	return out, nil
}

func parseCommands(raw map[string]any) (Commands, error) {
	var c Commands
	m, err := optMap(raw, "commands", "commands")
	if err != nil || m == nil {
		return c, err
	}
	if c.Connect, err = optString(m, "connect"); err != nil {
		return c, fmt.Errorf("commands.%w", err)
	}
	lists := []struct {
		key string
		dst *[]string
	}{
		{"power_on", &c.PowerOn}, {"power_off", &c.PowerOff}, {"hard_reset", &c.HardReset},
		{"pre_os_command", &c.PreOS}, {"pre_power_command", &c.PrePower},
	}
	for _, l := range lists {
		if *l.dst, err = stringList(m[l.key], "commands."+l.key); err != nil {
			return c, err
		}
	}
	conns, err := optMap(m, "connections", "commands.connections")
	if err != nil {
		return c, err
	}
	if len(conns) > 0 {
		c.Connections = make(map[string]Connection, len(conns))
	}
	for name, v := range conns {
		path := "commands.connections." + name
		cm, ok := v.(map[string]any)
		if !ok {
			return c, fmt.Errorf("%s: expected a mapping, got %T", path, v)
		}
		conn := Connection{}
		if conn.Connect, err = optString(cm, "connect"); err != nil {
			return c, fmt.Errorf("%s.%w", path, err)
		}
		if conn.Tags, err = stringList(cm["tags"], path+".tags"); err != nil {
			return c, err
		}
		if conn.Serial, err = parseSerial(cm, path); err != nil {
			return c, err
		}
		if conn.Connect == "" && conn.Serial == nil {
			return c, fmt.Errorf("%s: a connect command or a serial port is required", path)
		}
		c.Connections[name] = conn
	}
	return c, nil
}

// optString reads a scalar as a string; numbers are formatted (a command
// could be a bare number in odd labs), absence gives "".
func optString(m map[string]any, key string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("%s: expected a string, got %T", key, v)
}

func optMap(m map[string]any, key, path string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	mm, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expected a mapping, got %T", path, v)
	}
	return mm, nil
}

func stringList(v any, path string) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: expected a string, got %T", path, i, e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: expected a string or a list of strings, got %T", path, v)
}

func toInt(v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		return int(x), nil
	case string:
		n, err := strconv.Atoi(x)
		if err != nil {
			return 0, fmt.Errorf("expected an integer, got %q", x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("expected an integer, got %T", v)
}

// ResultsDir is the directory of the test overlay on the DUT for a job:
// constants.posix.lava_test_results_dir (where LAVA's templates put it),
// then parameters.lava_test_results_dir, default "/lava-%s"; "%s" is
// replaced by the job id.
func (d *Device) ResultsDir(jobID string) string {
	pattern := "/lava-%s"
	if posix, ok := d.Constants["posix"].(map[string]any); ok {
		if s, ok := posix["lava_test_results_dir"].(string); ok && s != "" {
			pattern = s
		}
	} else if s, ok := d.Parameters["lava_test_results_dir"].(string); ok && s != "" {
		pattern = s
	}
	return replacePercentS(pattern, jobID)
}

func replacePercentS(pattern, id string) string {
	out := make([]byte, 0, len(pattern)+len(id))
	for i := 0; i < len(pattern); i++ {
		if pattern[i] == '%' && i+1 < len(pattern) && pattern[i+1] == 's' {
			out = append(out, id...)
			i++
			continue
		}
		out = append(out, pattern[i])
	}
	return string(out)
}

// parseSerial reads connections.<name>.serial: {port: PATH, baud: N}.
func parseSerial(cm map[string]any, path string) (*SerialPort, error) {
	sm, err := optMap(cm, "serial", path+".serial")
	if err != nil || sm == nil {
		return nil, err
	}
	sp := &SerialPort{Baud: 115200}
	if sp.Port, err = optString(sm, "port"); err != nil {
		return nil, fmt.Errorf("%s.serial.%w", path, err)
	}
	if sp.Port == "" {
		return nil, fmt.Errorf("%s.serial.port: the serial device path is required", path)
	}
	if v, ok := sm["baud"]; ok {
		if sp.Baud, err = toInt(v); err != nil || sp.Baud <= 0 {
			return nil, fmt.Errorf("%s.serial.baud: a positive speed is required, got %v", path, v)
		}
	}
	return sp, nil
}
