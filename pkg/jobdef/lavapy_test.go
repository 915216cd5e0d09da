package jobdef

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lavaPy is one long-lived python3 running testdata/lava/validate.py with the
// real lava-common 2023.01: a whole batch of documents goes through a single
// process, so the suites pay Python's start-up once.
type lavaPy struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	cancel context.CancelFunc
}

// pyVerdict is validate.py's answer for one document.
type pyVerdict struct {
	Valid bool   `json:"valid"`
	Path  string `json:"path"`
	Error string `json:"error"`
}

// debianPython is the interpreter that sees Debian's python3-voluptuous and
// python3-yaml: LAVA_PYTHON, else /usr/bin/python3 (not pyenv's).
func debianPython() string {
	if p := os.Getenv("LAVA_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

func startLavaPy(t testing.TB, script string) *lavaPy {
	t.Helper()
	ref := refDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	cmd := exec.CommandContext(ctx, debianPython(), script)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+filepath.Join(ref, "usr/lib/python3/dist-packages"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v (install the test dependencies with `scripts/install-deps.sh test`)", debianPython(), err)
	}
	p := &lavaPy{t: t, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), cancel: cancel}
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("%s: %v: %s", script, err, stderr.String())
		}
		cancel()
	})
	// A first request proves the imports work, and names what is missing.
	var v pyVerdict
	if err := p.call(map[string]any{"yaml": "{}", "strict": false}, &v); err != nil {
		t.Fatalf("python3 with lava-common does not answer: %v\n%s\n(needs python3-voluptuous and python3-yaml: "+
			"`scripts/install-deps.sh test`, and the LAVA packages: `make ref`)", err, stderr.String())
	}
	return p
}

// call sends one JSON request and decodes the one-line answer.
func (p *lavaPy) call(req, resp any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := p.in.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	return json.Unmarshal(line, resp)
}

// validate is lava-common's verdict on one document.
func (p *lavaPy) validate(doc []byte, strict bool) pyVerdict {
	p.t.Helper()
	var v pyVerdict
	if err := p.call(map[string]any{"yaml": string(doc), "strict": strict}, &v); err != nil {
		p.t.Fatal(err)
	}
	return v
}
