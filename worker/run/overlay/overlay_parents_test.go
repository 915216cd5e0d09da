package overlay

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
)

// Extracting the overlay as root with tar -C / must not touch the modes of
// the results dir's parents: a /tmp entry would make /tmp 0755.
func TestBuildHasNoEntriesForParentsOfTheResultsDir(t *testing.T) {
	t.Parallel()
	data, err := Build(Config{ResultsDir: "/tmp/boards/b1/fs/lava-7"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if !strings.HasPrefix(h.Name, "tmp/boards/b1/fs/lava-7/") {
			t.Errorf("entry %q is outside the results dir", h.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("empty overlay")
	}
}
