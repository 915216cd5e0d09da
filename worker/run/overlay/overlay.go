package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed scripts
var scripts embed.FS

// Definition is one test definition of a test action.
type Definition struct {
	// Name is the definition's name; the run is reported as "<Index>_<Name>".
	Name  string
	Index int
	UUID  string
	// InstallSteps and RunSteps are shell lines run in order.
	InstallSteps []string
	RunSteps     []string
	// SourceDir, when set, is a local folder (a cloned repository) whose
	// files are copied into the definition's folder; .git is left out.
	SourceDir string
	// Params are exported to the steps (definition defaults merged with the
	// job's parameters, the job winning).
	Params map[string]string
}

// RunID is the TESTRUN_ID of the definition, e.g. "0_smoke".
func (d Definition) RunID() string { return strconv.Itoa(d.Index) + "_" + d.Name }

// Stage is the set of definitions one test action runs.
type Stage struct {
	Index       int
	Definitions []Definition
}

// Config describes an overlay.
type Config struct {
	// ResultsDir is the absolute directory on the DUT, e.g. /lava-42.
	ResultsDir string
	JobID      string
	Stages     []Stage
	// Environment is written to ResultsDir/environment as exports.
	Environment map[string]string
	// Secrets are written to ResultsDir/secrets as KEY=VALUE lines (mode
	// 0600), as LAVA does with the job's secrets and the env-dut variables.
	Secrets map[string]string
	// JobSecrets is the job's secrets: block alone, written to
	// ResultsDir/job-secrets (mode 0600) and exported to the install and
	// run steps (the secrets file also holds the worker's environment,
	// whose PATH would break the DUT's shell).
	JobSecrets map[string]string
	// ModTime stamps the archive entries; zero means the Unix epoch so the
	// archive bytes only depend on the config.
	ModTime time.Time
}

// StageDir is the directory of a stage on the DUT.
func (c Config) StageDir(stage int) string { return path.Join(c.ResultsDir, strconv.Itoa(stage)) }

// RunnerCommand is the command line that runs a stage on the DUT.
func (c Config) RunnerCommand(stage int) string {
	return path.Join(c.ResultsDir, "bin", "lava-test-runner") + " " + c.StageDir(stage)
}

// Build returns the overlay as a gzip-compressed tar whose paths are
// relative to "/" (extract with tar -C / -xzf -).
func Build(cfg Config) ([]byte, error) {
	if !path.IsAbs(cfg.ResultsDir) || path.Clean(cfg.ResultsDir) == "/" {
		return nil, fmt.Errorf("overlay: results dir %q must be an absolute directory below /", cfg.ResultsDir)
	}
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	root := strings.TrimPrefix(path.Clean(cfg.ResultsDir), "/")
	w := &writer{tw: tar.NewWriter(gz), mtime: cfg.ModTime, dirs: map[string]bool{}, root: root}
	if err := w.scripts(path.Join(root, "bin")); err != nil {
		return nil, err
	}
	w.file(path.Join(root, "environment"), 0o644, exports(cfg.Environment))
	if len(cfg.Secrets) > 0 {
		w.file(path.Join(root, "secrets"), 0o600, assignments(cfg.Secrets))
	}
	if len(cfg.JobSecrets) > 0 {
		w.file(path.Join(root, "job-secrets"), 0o600, assignments(cfg.JobSecrets))
	}
	for _, st := range cfg.Stages {
		if err := w.stage(cfg, root, st); err != nil {
			return nil, err
		}
	}
	if w.err == nil {
		w.err = w.tw.Close()
	}
	if w.err == nil {
		w.err = gz.Close()
	}
	if w.err != nil {
		return nil, fmt.Errorf("overlay: %w", w.err)
	}
	return buf.Bytes(), nil
}

type writer struct {
	tw    *tar.Writer
	mtime time.Time
	dirs  map[string]bool
	root  string // the results dir, relative to "/"
	err   error
}

func (w *writer) dir(p string) {
	if p == "." || p == "" || w.dirs[p] {
		return
	}
	w.dir(path.Dir(p))
	w.dirs[p] = true
	// The results dir's parents exist on the DUT already (or tar creates
	// them): an entry for them would reset their modes on extraction as
	// root, e.g. turn a sticky, world-writable /tmp into 0755.
	if strings.HasPrefix(w.root, p+"/") {
		return
	}
	w.header(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755})
}

func (w *writer) file(p string, mode int64, data string) {
	w.dir(path.Dir(p))
	w.header(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: mode, Size: int64(len(data))})
	if w.err == nil {
		_, w.err = w.tw.Write([]byte(data))
	}
}

func (w *writer) header(h *tar.Header) {
	if w.err != nil {
		return
	}
	h.ModTime = w.mtime
	if h.ModTime.IsZero() {
		h.ModTime = time.Unix(0, 0)
	}
	h.Format = tar.FormatUSTAR
	w.err = w.tw.WriteHeader(h)
}

func (w *writer) scripts(bin string) error {
	entries, err := fs.ReadDir(scripts, "scripts")
	if err != nil {
		return err
	}
	for _, e := range entries {
		data, err := fs.ReadFile(scripts, "scripts/"+e.Name())
		if err != nil {
			return err
		}
		mode := int64(0o755)
		if e.Name() == "lava-common-functions" {
			mode = 0o644
		}
		w.file(path.Join(bin, e.Name()), mode, string(data))
	}
	return nil
}

func (w *writer) stage(cfg Config, root string, st Stage) error {
	stageRoot := path.Join(root, strconv.Itoa(st.Index))
	var conf strings.Builder
	for _, d := range st.Definitions {
		if d.Name == "" || strings.ContainsAny(d.Name, "/ \t\n'\"") {
			return fmt.Errorf("test definition %d: invalid name %q", d.Index, d.Name)
		}
		rel := path.Join(stageRoot, "tests", d.RunID())
		abs := "/" + rel
		conf.WriteString(abs + "\n")
		if d.SourceDir != "" {
			if err := w.tree(d.SourceDir, rel); err != nil {
				return fmt.Errorf("test definition %s: %w", d.RunID(), err)
			}
		}
		w.file(path.Join(rel, "uuid"), 0o644, d.UUID+"\n")
		w.file(path.Join(rel, "run.sh"), 0o755, runScript(cfg, abs, d))
		if len(d.InstallSteps) > 0 {
			w.file(path.Join(rel, "install.sh"), 0o755, installScript(cfg, abs, d))
		}
	}
	w.file(path.Join(stageRoot, "lava-test-runner.conf"), 0o644, conf.String())
	return nil
}

// tree copies the regular files, folders and symlinks of dir below rel.
func (w *writer) tree(dir, rel string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		sub, _ := filepath.Rel(dir, p)
		if sub == ".git" && e.IsDir() {
			return filepath.SkipDir
		}
		if sub == "." {
			return nil
		}
		name := path.Join(rel, filepath.ToSlash(sub))
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			w.dir(name)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			w.dir(path.Dir(name))
			w.header(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			w.file(name, int64(info.Mode().Perm()), string(data))
		}
		return w.err
	})
}

func runScript(cfg Config, dir string, d Definition) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# Generated by lava-run for job " + cfg.JobID + ".\n")
	b.WriteString(". " + Quote(path.Join(cfg.ResultsDir, "bin", "lava-common-functions")) + "\n")
	b.WriteString("export TESTRUN_ID=" + Quote(d.RunID()) + "\n")
	b.WriteString(exports(d.Params))
	b.WriteString(sourceSecrets(cfg))
	b.WriteString("cd " + Quote(dir) + "\n")
	b.WriteString("UUID=$(cat uuid)\n")
	b.WriteString("lava_signal STARTRUN \"$TESTRUN_ID $UUID\"\n")
	b.WriteString("set -x\n")
	for _, s := range d.RunSteps {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	b.WriteString("set +x\n")
	b.WriteString("lava_signal ENDRUN \"$TESTRUN_ID $UUID\"\n")
	return b.String()
}

func installScript(cfg Config, dir string, d Definition) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\nset -e\n")
	b.WriteString(exports(d.Params))
	b.WriteString(sourceSecrets(cfg))
	b.WriteString("cd " + Quote(dir) + "\n")
	for _, s := range d.InstallSteps {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.String()
}

// sourceSecrets exports the job's secrets: block to the steps, before "set -x"
// so that the shell trace does not print the assignments (lava-run masks
// what a step prints, but the fewer copies on the console the better).
func sourceSecrets(cfg Config) string {
	if len(cfg.JobSecrets) == 0 {
		return ""
	}
	return "set -a\n. " + Quote(path.Join(cfg.ResultsDir, "job-secrets")) + "\nset +a\n"
}

func exports(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if validName(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("export " + k + "=" + Quote(m[k]) + "\n")
	}
	return b.String()
}

// assignments renders m as KEY=VALUE lines in key order (values quoted so
// that the file can be sourced by a shell).
func assignments(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if validName(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + Quote(m[k]) + "\n")
	}
	return b.String()
}

func validName(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Quote makes s one single-quoted shell word.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
