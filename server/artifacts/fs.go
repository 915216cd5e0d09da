package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// FS keeps artifacts as files under Root: Root/REALM/AREA/PATH. An upload
// is written to a hidden temporary file in the destination folder, synced,
// then renamed over the destination, so it appears whole or not at all.
type FS struct {
	Root string
}

// NewFS makes the root folder if needed and returns its backend.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("artifacts: filesystem backend needs a folder")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifacts folder %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("artifacts folder: %w", err)
	}
	return &FS{Root: abs}, nil
}

func (b *FS) String() string { return "fs " + b.Root }

func (b *FS) file(key string) (string, error) {
	if err := validKey(key); err != nil {
		return "", err
	}
	return filepath.Join(b.Root, filepath.FromSlash(key)), nil
}

// Put implements Backend.
func (b *FS) Put(ctx context.Context, key string, r io.Reader, size int64, sha string) (Info, error) {
	dst, err := b.file(key)
	if err != nil {
		return Info{}, err
	}
	dir := filepath.Dir(dst)
	var tmp *os.File
	// A concurrent Delete may remove the emptied folder between MkdirAll
	// and CreateTemp: try again a few times.
	for try := 0; ; try++ {
		if err = os.MkdirAll(dir, 0o755); err != nil {
			return Info{}, b.pathErr(key, err)
		}
		tmp, err = os.CreateTemp(dir, tmpPrefix+"*")
		if err == nil || !errors.Is(err, fs.ErrNotExist) || try == 3 {
			break
		}
	}
	if err != nil {
		return Info{}, b.pathErr(key, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
			b.prune(key, dir)
		}
	}()
	v := newVerifier(&ctxReader{ctx: ctx, r: r}, size, sha)
	if _, err := io.Copy(tmp, v); err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	info, err := v.done()
	if err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		return Info{}, fmt.Errorf("upload %s: sync: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	if st, err := os.Lstat(dst); err == nil && st.IsDir() {
		return Info{}, fmt.Errorf("%w: %s is a folder of other artifacts", ErrConflict, key)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Info{}, b.pathErr(key, err)
	}
	committed = true
	syncDir(dir)
	return info, nil
}

// pathErr turns "a parent is a file" into ErrConflict with the key named.
func (b *FS) pathErr(key string, err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EISDIR) {
		return fmt.Errorf("%w: %s: a part of the path is already an artifact (or a folder of them)", ErrConflict, key)
	}
	return fmt.Errorf("store %s: %w", key, err)
}

// syncDir makes a rename durable; a failure only weakens durability after
// a power cut, so it is not reported.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Open implements Backend.
func (b *FS) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	name, err := b.file(key)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, b.openErr(key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return f, st.Size(), nil
}

func (b *FS) openErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("open %s: %w", key, err)
}

// Stat implements Backend.
func (b *FS) Stat(ctx context.Context, key string) (Info, error) {
	name, err := b.file(key)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(name)
	if err != nil {
		return Info{}, b.openErr(key, err)
	}
	if !st.Mode().IsRegular() {
		return Info{}, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return Info{Size: st.Size()}, nil
}

// Delete implements Backend; it also removes the folders the deletion
// emptied, up to the area's folder.
func (b *FS) Delete(ctx context.Context, key string) error {
	name, err := b.file(key)
	if err != nil {
		return err
	}
	if st, err := os.Lstat(name); err == nil && st.IsDir() {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	b.prune(key, filepath.Dir(name))
	return nil
}

// prune removes dir and its parents while they are empty, up to the
// key's REALM/AREA folder, which stays.
func (b *FS) prune(key, dir string) {
	stop := filepath.Join(b.Root, filepath.FromSlash(strings.Join(strings.SplitN(key, "/", 3)[:2], "/")))
	for ; len(dir) > len(stop); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return // not empty (or gone): stop climbing
		}
	}
}

// List implements Backend; files being uploaded are not listed.
func (b *FS) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validKeyPrefix(prefix); err != nil {
		return nil, err
	}
	// Walk from the deepest folder the prefix names.
	start := b.Root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		start = filepath.Join(b.Root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		rel, err := filepath.Rel(b.Root, p)
		if err != nil {
			return err
		}
		if k := filepath.ToSlash(rel); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// ctxReader stops a copy when ctx ends (a client gone, a server stopping).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
