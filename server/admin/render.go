package admin

import (
	"fmt"
	"io"
	"io/fs"
	"os"

	"golava/pkg/devconf"
	"golava/pkg/jobdef"
)

// MaxContextBytes bounds a job context file.
const MaxContextBytes = 1 << 20

// RenderDevice renders the device dictionary at dictPath through the
// device-type templates of templateDirs (searched in order, after the ones
// golava ships) with the job context in contextPath (a YAML mapping, may be
// empty), as LAVA's `lava-server manage device-dictionary --review` and
// scheduler.devices.get_dictionary(hostname, True, context) do. It writes
// the device configuration to w.
func RenderDevice(w io.Writer, dictPath string, templateDirs []string, contextPath string) error {
	dict, err := ReadDictionary(dictPath)
	if err != nil {
		return err
	}
	var vars map[string]any
	if contextPath != "" {
		if vars, err = readContext(contextPath); err != nil {
			return err
		}
	}
	dirs := make([]fs.FS, 0, len(templateDirs))
	for _, d := range templateDirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return fmt.Errorf("templates folder %s: not a readable folder", d)
		}
		dirs = append(dirs, os.DirFS(d))
	}
	out, err := devconf.NewRenderer(dirs...).RenderWith(dict, vars)
	if err != nil {
		return fmt.Errorf("%s: %w", dictPath, err)
	}
	_, err = io.WriteString(w, out)
	return err
}

// readContext reads a job context file: a YAML mapping as the context:
// block of a job (PyYAML's reading of it).
func readContext(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("context: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxContextBytes+1))
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", path, err)
	}
	if len(data) > MaxContextBytes {
		return nil, fmt.Errorf("context %s: larger than %d bytes", path, MaxContextBytes)
	}
	v, err := jobdef.DecodeYAML11(data)
	if err != nil {
		return nil, fmt.Errorf("context %s: %w", path, err)
	}
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return m, nil
	}
	return nil, fmt.Errorf("context %s: expected a YAML mapping, got %T", path, v)
}
