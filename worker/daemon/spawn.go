package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/pkg/workerapi"
)

// Files of a job dir.
const (
	fileJob         = "job.yaml"
	fileDevice      = "device.yaml"
	fileDispatcher  = "dispatcher.yaml"
	fileEnvDUT      = "env-dut.yaml"
	fileStdout      = "stdout"
	fileStderr      = "stderr"
	fileResult      = "result.yaml"      // written by lava-run at exit
	fileDescription = "description.yaml" // written by lava-run after parsing
)

// jobDirName is LAVA's "{prefix}{job_id}".
func jobDirName(prefix string, id int64) string { return prefix + strconv.FormatInt(id, 10) }

func (d *daemon) jobDir(j *jobRecord) string {
	return filepath.Join(d.tmpDir, jobDirName(j.Prefix, j.ID))
}

// launch writes the job dir and starts lava-run. It always returns a
// record: one that failed to start is finished with pid 0 and the reason
// in its stderr file, so that the next check reports it as failed.
func (d *daemon) launch(ref workerapi.JobRef, jc workerapi.JobConfig) *jobRecord {
	rec := &jobRecord{ID: ref.ID, Token: ref.Token, Status: statusFinished, LastUpdate: time.Now()}
	prefix, perr := dispatcherPrefix(jc.Dispatcher)
	if perr == nil {
		rec.Prefix = prefix
	}
	dir := d.jobDir(rec)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		d.log.Error("cannot create job dir", "job_id", ref.ID, "error", err)
		return rec
	}
	err := perr
	if err == nil {
		err = writeJobFiles(dir, jc)
	}
	var pid int
	if err == nil {
		pid, err = d.spawn(ref, dir, jc)
	}
	if err != nil {
		d.log.Error("cannot start lava-run", "job_id", ref.ID, "error", err)
		appendFile(filepath.Join(dir, fileStderr), "lava-worker: "+err.Error()+"\n")
		return rec
	}
	rec.PID, rec.Status = pid, statusRunning
	d.log.Info("lava-run started", "job_id", ref.ID, "pid", pid, "dir", dir)
	return rec
}

// writeJobFiles writes what lava-run reads and clears what a previous run
// of the same job left, so a stale result is never reported.
func writeJobFiles(dir string, jc workerapi.JobConfig) error {
	type jobFile struct {
		name, text string
		mode       os.FileMode
	}
	// The definition carries the job's secrets in clear (the server
	// resolved them for this run): only the worker's user reads it, and
	// report removes it as soon as lava-run is gone.
	files := []jobFile{{fileJob, jc.Definition, 0o600}, {fileDevice, jc.Device, 0o644}, {fileDispatcher, jc.Dispatcher, 0o644}}
	if jc.EnvDUT != "" {
		files = append(files, jobFile{fileEnvDUT, jc.EnvDUT, 0o644})
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		// WriteFile keeps the mode of a file a previous run left.
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write job file: %w", err)
		}
		if err := os.WriteFile(p, []byte(f.text), f.mode); err != nil {
			return fmt.Errorf("write job file: %w", err)
		}
	}
	for _, name := range []string{fileResult, fileDescription} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", name, err)
		}
	}
	return nil
}

// scrubJob removes the job definition, the one file of a job dir with
// secret values in clear: the dir itself stays until the server has taken
// the end report, which can be long when the server is away.
func scrubJob(dir string) error {
	if err := os.Remove(filepath.Join(dir, fileJob)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", fileJob, err)
	}
	return nil
}

// lavaRunArgs is LAVA's command line; --env-dut follows the job file.
func (d *daemon) lavaRunArgs(ref workerapi.JobRef, dir, lavaRun string, envDUT bool) []string {
	args := []string{
		lavaRun,
		"--device=" + filepath.Join(dir, fileDevice),
		"--dispatcher=" + filepath.Join(dir, fileDispatcher),
		"--output-dir=" + dir,
		"--job-id=" + strconv.FormatInt(ref.ID, 10),
		"--url=" + d.cfg.URL,
		"--token=" + ref.Token,
		"--job-log-interval=" + strconv.Itoa(d.cfg.JobLogInterval),
	}
	if d.cfg.Debug {
		args = append(args, "--debug")
	}
	args = append(args, filepath.Join(dir, fileJob))
	if envDUT {
		args = append(args, "--env-dut="+filepath.Join(dir, fileEnvDUT))
	}
	if d.cfg.Nice {
		args = append([]string{"nice"}, args...)
	}
	return args
}

// spawn starts lava-run in its own process group (so a cancel reaches
// everything it runs and a signal to the worker reaches none of it) and
// watches it.
func (d *daemon) spawn(ref workerapi.JobRef, dir string, jc workerapi.JobConfig) (int, error) {
	env, err := buildEnv(os.Environ(), jc.Env)
	if err != nil {
		return 0, err
	}
	// Resolved here, with the worker's PATH: the job's environment may
	// have been purged of it.
	lavaRun, err := exec.LookPath(d.cfg.LavaRun)
	if err != nil {
		return 0, fmt.Errorf("find lava-run: %w", err)
	}
	if lavaRun, err = filepath.Abs(lavaRun); err != nil {
		return 0, fmt.Errorf("find lava-run: %w", err)
	}
	args := d.lavaRunArgs(ref, dir, lavaRun, jc.EnvDUT != "")
	stdout, err := os.Create(filepath.Join(dir, fileStdout))
	if err != nil {
		return 0, fmt.Errorf("create stdout file: %w", err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, fileStderr))
	if err != nil {
		return 0, fmt.Errorf("create stderr file: %w", err)
	}
	defer stderr.Close()

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", args[0], err)
	}
	d.watchChild(ref.ID, cmd)
	return cmd.Process.Pid, nil
}

// dispatcherPrefix is the "prefix" key of dispatcher.yaml, which LAVA puts
// in front of the job dir name (several workers sharing a host use it).
func dispatcherPrefix(dispatcher string) (string, error) {
	var cfg any
	if err := yaml.Unmarshal([]byte(dispatcher), &cfg); err != nil {
		return "", fmt.Errorf("dispatcher.yaml: %w", err)
	}
	m, ok := cfg.(map[string]any)
	if !ok || m["prefix"] == nil {
		return "", nil
	}
	prefix := fmt.Sprint(m["prefix"])
	if strings.ContainsAny(prefix, "/\x00") || prefix == "." || prefix == ".." || len(prefix) > 100 {
		return "", fmt.Errorf("dispatcher.yaml: prefix %q is not a file name", prefix)
	}
	return prefix, nil
}

// envConfig is the env YAML of the job: LAVA's purge, removes, overrides.
type envConfig struct {
	Purge     any               `yaml:"purge"`
	Removes   []string          `yaml:"removes"`
	Overrides map[string]string `yaml:"overrides"`
}

// buildEnv applies the env YAML to base (KEY=VALUE entries).
func buildEnv(base []string, envYAML string) ([]string, error) {
	var conf envConfig
	if err := yaml.Unmarshal([]byte(envYAML), &conf); err != nil {
		return nil, fmt.Errorf("env.yaml: %w", err)
	}
	env := map[string]string{}
	if !truthy(conf.Purge) {
		for _, kv := range base {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	for _, k := range conf.Removes {
		delete(env, k)
	}
	for k, v := range conf.Overrides {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// truthy is Python's truth of a PyYAML (YAML 1.1) value: "no" and "off"
// are false there, while go-yaml reads them as strings.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int:
		return x != 0
	case float64:
		return x != 0
	case string:
		switch strings.ToLower(x) {
		case "", "no", "off", "false":
			return false
		}
		return true
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

func appendFile(path, text string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	f.WriteString(text)
}
