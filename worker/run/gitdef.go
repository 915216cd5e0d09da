package run

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/worker/run/overlay"
)

// defSource is where a test definition comes from; git ones are cloned
// when the overlay is built (LAVA's git-repo-action in the deploy).
type defSource struct {
	from       string // inline or git
	repository string
	revision   string
	branch     string
	path       string
	shallow    bool
	where      string
	params     map[string]any // the job's definition block (params, parameters)
	commit     string         // filled by the clone
}

// gitTimeout bounds one git command when the step has no earlier deadline.
const gitTimeout = 10 * time.Minute

func gitSourceOf(m map[string]any, where string) (*defSource, error) {
	s := &defSource{
		from: stringOf(m["from"]), repository: stringOf(m["repository"]), revision: stringOf(m["revision"]),
		branch: stringOf(m["branch"]), path: stringOf(m["path"]), shallow: true, where: where, params: m,
	}
	if s.repository == "" {
		return nil, JobError("%s.repository: the repository url is required", where)
	}
	if s.path == "" {
		return nil, JobError("%s.path: the path of the test definition in the repository is required", where)
	}
	if filepath.IsAbs(s.path) || strings.Contains("/"+filepath.ToSlash(s.path)+"/", "/../") {
		return nil, JobError("%s.path: %q must be relative to the repository", where, s.path)
	}
	if v, ok := m["shallow"].(bool); ok {
		s.shallow = v
	}
	if s.revision != "" {
		s.shallow = false // a revision may be anywhere in the history
	}
	return s, nil
}

// fetchDefinitions clones the git test definitions into the job's folder
// and reads their documents into the overlay.
func (j *Job) fetchDefinitions(ctx context.Context) error {
	for si := range j.Overlay.Stages {
		defs := j.Overlay.Stages[si].Definitions
		for di := range defs {
			src := j.sources[defs[di].RunID()]
			if src == nil || src.from == "inline" || defs[di].SourceDir != "" {
				continue
			}
			dir := filepath.Join(j.OutDir, "tests", defs[di].RunID())
			fetch := j.cloneDefinition
			if src.from == "url" {
				fetch = j.untarDefinition
			}
			if err := fetch(ctx, src, dir); err != nil {
				return err
			}
			if err := j.readDefinition(&defs[di], src, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

func (j *Job) cloneDefinition(ctx context.Context, src *defSource, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return InfraError("clean %s: %v", dir, err)
	}
	j.Log.Infof("Fetching tests from %s", src.repository)
	args := []string{"clone", "--quiet"}
	if src.shallow {
		args = append(args, "--depth=1")
	}
	if src.branch != "" {
		args = append(args, "--branch", src.branch)
	}
	args = append(args, "--", src.repository, dir)
	if _, err := j.git(ctx, "", args...); err != nil {
		return InfraError("Unable to get test definition from git (%s): %v", src.repository, err)
	}
	if src.revision != "" {
		if _, err := j.git(ctx, dir, "checkout", "--quiet", src.revision, "--"); err != nil {
			return InfraError("Unable to get test definition from git (%s at %s): %v", src.repository, src.revision, err)
		}
	}
	commit, err := j.git(ctx, dir, "log", "-1", "--format=%H")
	if err != nil {
		return InfraError("Unable to get test definition from git (%s): %v", src.repository, err)
	}
	src.commit = strings.TrimSpace(commit)
	j.Log.Infof("Cloned %s at commit %s", src.repository, src.commit)
	return nil
}

// git runs the git binary without prompts (a private repository must not
// wait for a password on the worker's terminal).
func (j *Job) git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=/bin/true")
	j.Log.Debugf("Running 'git %s'", strings.Join(args, " "))
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// readDefinition reads the YAML test definition at src.path in the clone.
func (j *Job) readDefinition(def *overlay.Definition, src *defSource, dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, src.path))
	if err != nil {
		return JobError("Unable to open test definition '%s': %v", src.path, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return JobError("%s: invalid test definition %s: %v", src.where, src.path, err)
	}
	if doc == nil {
		return JobError("%s: empty test definition %s", src.where, src.path)
	}
	if err := j.fillDefinition(def, doc, src.params, src.where); err != nil {
		return err
	}
	def.SourceDir = dir
	return nil
}
