package runtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GitRepo makes a git repository in dir with files (path -> content) in
// one commit and returns its file:// URL and the commit id.
func GitRepo(dir string, files map[string]string) (string, string, error) {
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", "", err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			return "", "", err
		}
	}
	env := append(os.Environ(), "GIT_AUTHOR_NAME=golava", "GIT_AUTHOR_EMAIL=golava@example.org",
		"GIT_COMMITTER_NAME=golava", "GIT_COMMITTER_EMAIL=golava@example.org", "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	var commit string
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"commit", "-q", "-m", "tests"}, {"rev-parse", "HEAD"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", "", fmt.Errorf("git %s: %v: %s", args[0], err, out)
		}
		commit = strings.TrimSpace(string(out))
	}
	return "file://" + dir, commit, nil
}
