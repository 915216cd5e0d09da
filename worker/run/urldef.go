package run

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// maxDefinitionTar bounds what a url test definition may unpack to.
const maxDefinitionTar = 256 << 20

// untarDefinition downloads a tarball of test definitions (from: url,
// LAVA's UrlRepoAction) and unpacks it into dir; tar, tar.gz and tar.bz2
// are recognised by their first bytes.
func (j *Job) untarDefinition(ctx context.Context, src *defSource, dir string) error {
	u, err := url.Parse(src.repository)
	if err != nil {
		return JobError("%s.repository: invalid url %q: %v", src.where, src.repository, err)
	}
	j.Log.Infof("Fetching tests from %s", src.repository)
	body, err := openArtifact(ctx, j.artifacts, u, src.where+".repository")
	if err != nil {
		return err
	}
	defer body.Close()
	if err := os.RemoveAll(dir); err != nil {
		return InfraError("clean %s: %v", dir, err)
	}
	if err := untar(body, dir); err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return JobError("Unable to unpack the test definitions of %s: %v", src.repository, err)
	}
	if err := body.verify(); err != nil {
		return err
	}
	j.Log.Infof("Untar tests from file %s to directory %s", src.repository, dir)
	return nil
}

func untar(r io.Reader, dir string) error {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	var in io.Reader = br
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		in = zr
	case bytes.HasPrefix(magic, []byte("BZh")):
		in = bzip2.NewReader(br)
	}
	tr := tar.NewReader(io.LimitReader(in, maxDefinitionTar))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("%q leaves the folder", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = writeTarFile(tr, p, os.FileMode(h.Mode&0o755|0o600))
		case tar.TypeSymlink:
			// A link out of the folder would let a later entry escape.
			t := filepath.Clean(filepath.Join(filepath.Dir(name), h.Linkname))
			if filepath.IsAbs(h.Linkname) || t == ".." || strings.HasPrefix(t, "../") {
				return fmt.Errorf("link %q -> %q leaves the folder", h.Name, h.Linkname)
			}
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(h.Linkname, p)
			}
		}
		if err != nil {
			return err
		}
	}
}

func writeTarFile(r io.Reader, p string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
