package run

import (
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyEnvDUT reads the worker's env-dut file as LAVA does: the
// environment of lava-run, emptied by purge, without removes, with
// overrides; the result goes to the overlay's secrets file. Only the
// overrides are also exported to the test shell (exporting the worker's
// PATH or HOME on the DUT would break it), and the worker's LAVA_* settings
// (the job token) never leave the worker.
func (j *Job) applyEnvDUT(data []byte, path string) error {
	var conf struct {
		Purge     bool           `yaml:"purge"`
		Removes   []string       `yaml:"removes"`
		Overrides map[string]any `yaml:"overrides"`
	}
	if err := yaml.Unmarshal(data, &conf); err != nil {
		return ConfigError("%s: %v", path, err)
	}
	env := map[string]string{}
	if !conf.Purge {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	for _, k := range conf.Removes {
		delete(env, k)
	}
	for k := range env {
		if strings.HasPrefix(k, "LAVA_") { // the worker's settings and token
			delete(env, k)
		}
	}
	for k, v := range conf.Overrides {
		env[k] = stringOf(v)
		j.Overlay.Environment[k] = stringOf(v)
	}
	if j.Overlay.Secrets == nil {
		j.Overlay.Secrets = map[string]string{}
	}
	for k, v := range env {
		j.Overlay.Secrets[k] = v
	}
	return nil
}
