package run

import (
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golava/pkg/jobdef"
	"golava/worker/run/overlay"
)

// artifact is one file a deploy action downloads.
type artifact struct {
	Key         string
	URL         string
	Checksums   map[string]string // algorithm -> hex
	Compression string
	// Where names the job field of the URL in artifact:// errors.
	Where string
}

// artifactKeys are the deploy parameters that name a downloadable file
// besides the images block.
var artifactKeys = []string{"kernel", "dtb", "ramdisk", "rootfs", "nfsrootfs", "modules", "image", "initrd", "preseed", "tee", "uefi", "bootloader", "firmware"}

func artifactsOf(a jobdef.Action) ([]artifact, error) {
	var out []artifact
	add := func(key string, v any, where string) error {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		u := stringOf(m["url"])
		if u == "" {
			return JobError("%s: missing url", where)
		}
		art := artifact{Key: key, Where: where + ".url", URL: u, Checksums: map[string]string{}, Compression: stringOf(m["compression"])}
		for _, alg := range []string{"md5sum", "sha256sum", "sha512sum"} {
			if s := stringOf(m[alg]); s != "" {
				art.Checksums[alg] = strings.ToLower(s)
			}
		}
		out = append(out, art)
		return nil
	}
	if images, ok := a.Params["images"].(map[string]any); ok {
		keys := sortedKeys(images)
		for _, k := range keys {
			if err := add(k, images[k], fmt.Sprintf("actions[%d].deploy.images.%s", a.Index, k)); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range artifactKeys {
		if err := add(k, a.Params[k], fmt.Sprintf("actions[%d].deploy.%s", a.Index, k)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// buildDeploy makes deployimages (tmpfs) or overlay: one download per
// artifact, then the test overlay.
func buildDeploy(j *Job, a jobdef.Action) (*Step, error) {
	arts, err := artifactsOf(a)
	if err != nil {
		return nil, err
	}
	var children []*Step
	dir := filepath.Join(j.OutDir, fmt.Sprintf("deploy-%d", a.Index))
	for _, art := range arts {
		art := art
		children = append(children, j.step(a, "download-retry", "download "+art.Key+" with retry",
			func(ctx context.Context, s *Step) error {
				p, err := download(ctx, j.Log, j.artifacts, art, filepath.Join(dir, art.Key))
				if err != nil {
					return err
				}
				j.Downloads[art.Key] = p
				s.Extra = map[string]any{"label": art.Key, "url": art.URL, "path": p}
				return nil
			}))
	}
	children = append(children, j.step(a, "lava-overlay", "add lava scripts during deployment for test shell use",
		func(ctx context.Context, s *Step) error { return j.buildOverlay(ctx) }))
	if key := ramdiskKey(arts); key != "" && a.Method == "tmpfs" && j.hasTestAfter(a.Index) {
		children = append(children, j.step(a, "compress-ramdisk", "add the test overlay to the ramdisk",
			func(ctx context.Context, s *Step) error { return j.overlayRamdisk(s, key) }))
	}
	name, desc := "deployimages", "deploy images using guestfs"
	if a.Method == "overlay" {
		name, desc = "overlay", "add overlay"
	}
	return j.step(a, name, desc, nil, children...), nil
}

// download fetches art into dir and verifies its checksums. A wrong
// checksum or a missing file is the job's fault (JobError); a server that
// fails, or a realm artifact whose bytes differ from the server's
// checksum, is an InfrastructureError. srv serves artifact:// URLs.
func download(ctx context.Context, log *Logger, srv *artifactServer, art artifact, dir string) (string, error) {
	u, err := url.Parse(art.URL)
	if err != nil {
		return "", JobError("%s: invalid url %q: %v", art.Key, art.URL, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = art.Key
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", InfraError("create %s: %v", dir, err)
	}
	where := art.Key
	if u.Scheme == artifactScheme && art.Where != "" {
		where = art.Where
	}
	src, err := openArtifact(ctx, srv, u, where)
	if err != nil {
		return "", err
	}
	defer src.Close()
	size := src.size
	log.Infof("downloading %s", art.URL)
	start := time.Now()
	hashes := map[string]hash.Hash{"md5sum": md5.New(), "sha256sum": sha256.New(), "sha512sum": sha512.New()}
	writers := []io.Writer{}
	for alg := range art.Checksums {
		if h, ok := hashes[alg]; ok {
			writers = append(writers, h)
		}
	}
	pr := &progress{log: log, size: size}
	// Checksums are of the file as published (compressed).
	tee := io.TeeReader(src, io.MultiWriter(append(writers, pr)...))
	body, name, finish, err := decompressor(ctx, tee, art.Compression, name)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, name)
	f, err := os.Create(dst)
	if err != nil {
		return "", InfraError("create %s: %v", dst, err)
	}
	_, err = io.Copy(f, body)
	if ferr := finish(); err == nil {
		err = ferr
	}
	if err == nil {
		// A compressed stream may end before the file does (after finish:
		// a filter command reads tee until it exits); the job's and the
		// server's checksums are of the whole file.
		_, err = io.Copy(io.Discard, tee)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", context.Cause(ctx)
		}
		if e, ok := errors.AsType[*Error](err); ok {
			return "", e
		}
		return "", InfraError("download %s: %v", art.URL, err)
	}
	elapsed := time.Since(start).Seconds()
	log.Infof("%d bytes downloaded in %.2f s (%.2f MB/s)", pr.done, elapsed, float64(pr.done)/1e6/max(elapsed, 1e-3))
	if err := src.verify(); err != nil {
		return "", err
	}
	if err := verifyChecksums(log, art, hashes); err != nil {
		return "", err
	}
	return dst, nil
}

// verifyChecksums compares the hashes of the downloaded bytes with the
// job's; a mismatch is the job's fault and names the artifact.
func verifyChecksums(log *Logger, art artifact, hashes map[string]hash.Hash) error {
	for alg, want := range art.Checksums {
		h, ok := hashes[alg]
		if !ok {
			continue
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return JobError("%s: %s mismatch for %s: got %s, expected %s", art.Key, alg, art.URL, got, want)
		}
		log.Infof("%s %s: %s", art.Key, alg, want)
	}
	return nil
}

// openArtifact opens every URL lava-run downloads (deploy images, url test
// definitions); key names the job field in errors. Realm artifacts
// (artifact://) come from srv, with the server's SHA-256 to verify.
func openArtifact(ctx context.Context, srv *artifactServer, u *url.URL, key string) (*source, error) {
	switch u.Scheme {
	case "file":
		f, err := os.Open(u.Path)
		if err != nil {
			return nil, JobError("%s: unable to open %s: %v", key, u.Path, err)
		}
		st, _ := f.Stat()
		return &source{ReadCloser: f, size: st.Size(), url: u.String()}, nil
	case "http", "https":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, JobError("%s: %v", key, err)
		}
		req.Header.Set("User-Agent", "lava 2023.01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, InfraError("%s: unable to fetch %s: %v", key, u, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, JobError("%s: unable to fetch %s: HTTP %d", key, u, resp.StatusCode)
		}
		return &source{ReadCloser: resp.Body, size: resp.ContentLength, url: u.String()}, nil
	case artifactScheme:
		return srv.open(ctx, u, key)
	}
	return nil, JobError("%s: unsupported url scheme %q", key, u.Scheme)
}

func decompressor(ctx context.Context, r io.Reader, compression, name string) (io.Reader, string, func() error, error) {
	none := func() error { return nil }
	switch compression {
	case "", "none":
		return r, name, none, nil
	case "gz":
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, "", nil, JobError("%s: not gzip data: %v", name, err)
		}
		return zr, strings.TrimSuffix(name, ".gz"), none, nil
	case "bz2":
		return bzip2.NewReader(r), strings.TrimSuffix(name, ".bz2"), none, nil
	case "xz", "zstd":
		// Debian's xz-utils and zstd: faster than any Go port, and no new module.
		body, finish, err := filterCommand(ctx, r, compression, "-d", "-c")
		if err != nil {
			return nil, "", nil, err
		}
		return body, strings.TrimSuffix(strings.TrimSuffix(name, ".xz"), ".zst"), finish, nil
	}
	return nil, "", nil, JobError("%s: compression %q is not supported", name, compression)
}

// filterCommand pipes r through a command; finish waits for it and turns
// its failure into a JobError (corrupt data is the job's fault).
func filterCommand(ctx context.Context, r io.Reader, bin string, args ...string) (io.Reader, func() error, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = r
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, InfraError("%s: %v", bin, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, InfraError("Unable to decompress with %s (install it on the worker): %v", bin, err)
	}
	finish := func() error {
		_, _ = io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			return JobError("%s decompression failed: %v: %s", bin, err, strings.TrimSpace(stderr.String()))
		}
		return nil
	}
	return out, finish, nil
}

// progress logs a line every 10 % of a known size, or every 10 MB.
type progress struct {
	log  *Logger
	size int64
	done int64
	next int64
}

func (p *progress) Write(b []byte) (int, error) {
	p.done += int64(len(b))
	if p.done < p.next {
		return len(b), nil
	}
	if p.size > 0 {
		pct := p.done * 100 / p.size
		p.log.Debugf("progress %3d %% (%d MB)", pct, p.done>>20)
		p.next = (pct/10 + 1) * 10 * p.size / 100
	} else {
		p.log.Debugf("progress %d MB", p.done>>20)
		p.next = p.done + 10<<20
	}
	return len(b), nil
}

// ramdiskKey is the artifact that is the DUT's initramfs, if any.
func ramdiskKey(arts []artifact) string {
	for _, a := range arts {
		if a.Key == "ramdisk" || a.Key == "initrd" {
			return a.Key
		}
	}
	return ""
}

// overlayRamdisk appends the test overlay to the downloaded initramfs, so
// that it is on the DUT at boot and needs no transfer over the console. A
// ramdisk that is not a cpio archive is left alone (the overlay then goes
// over the console).
func (j *Job) overlayRamdisk(s *Step, key string) error {
	p := j.Downloads[key]
	if !overlay.IsInitramfs(p) {
		j.Log.Infof("%s is not a cpio initramfs: the overlay will be transferred over the console", filepath.Base(p))
		s.Extra = map[string]any{"applied": false}
		return nil
	}
	cpio, err := overlay.CPIO(j.OverlayData)
	if err != nil {
		return Bug("%v", err)
	}
	if err := overlay.AppendToInitramfs(p, cpio); err != nil {
		return InfraError("add the overlay to %s: %v", p, err)
	}
	j.OverlayOnDevice = true
	j.Log.Infof("Test overlay (%d bytes) appended to the ramdisk %s", len(cpio), filepath.Base(p))
	s.Extra = map[string]any{"applied": true}
	return nil
}
