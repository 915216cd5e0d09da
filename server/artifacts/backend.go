package artifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Errors of every backend, for errors.Is.
var (
	// ErrNotFound: no object under the key.
	ErrNotFound = errors.New("artifact not found")
	// ErrChecksum: the bytes did not have the announced SHA-256; nothing
	// was stored.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrSize: the body was shorter or longer than announced; nothing was
	// stored.
	ErrSize = errors.New("size mismatch")
	// ErrConflict: the key cannot be stored beside an existing one (the
	// filesystem backend cannot keep both a/b and a/b/c).
	ErrConflict = errors.New("artifact path conflict")
)

// Info describes a stored object.
type Info struct {
	Size   int64
	SHA256 string // lower-case hex; empty when the backend does not know it
}

// Backend stores artifact bytes by key (REALM/AREA/PATH). Put is atomic: a
// reader sees the old object or the whole new one, never a part, and a
// failed or refused Put leaves the previous state.
type Backend interface {
	// Put stores r under key. size is the exact length, or -1 when
	// unknown; sha256hex, when not empty, is the expected digest, checked
	// before the object becomes visible. It returns the stored size and
	// the computed digest.
	Put(ctx context.Context, key string, r io.Reader, size int64, sha256hex string) (Info, error)
	// Open returns the object and its size; ErrNotFound when none.
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	// Stat returns the object's size (and digest when known).
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; a missing one is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys starting with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// String names the backend for logs ("fs /srv/artifacts").
	String() string
}

// ParseSHA256 normalises a hex digest (either case) or says what is wrong.
func ParseSHA256(s string) (string, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%w: %q is not a SHA-256 digest (64 hex digits)", ErrChecksum, s)
	}
	return hex.EncodeToString(b), nil
}

// verifier hashes and counts what passes through, and fails the read that
// would complete a body of the wrong length or digest: with a known size it
// holds back the last bytes until they check, so an HTTP client sending the
// body (S3) aborts instead of completing the object.
type verifier struct {
	r    io.Reader
	size int64 // -1: unknown
	want string
	h    hash.Hash
	n    int64
	err  error
}

func newVerifier(r io.Reader, size int64, want string) *verifier {
	return &verifier{r: r, size: size, want: want, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if v.size >= 0 && int64(len(p)) > v.size-v.n+1 {
		// Read at most one byte past the end, to notice a longer body.
		p = p[:v.size-v.n+1]
	}
	n, err := v.r.Read(p)
	if v.size >= 0 && v.n+int64(n) > v.size {
		v.err = fmt.Errorf("%w: body longer than the announced %d bytes", ErrSize, v.size)
		return 0, v.err
	}
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n == v.size {
		if e := v.check(); e != nil {
			v.err = e
			return 0, e
		}
		if err == nil {
			// Make sure nothing follows.
			var one [1]byte
			m, e := v.r.Read(one[:])
			if m > 0 {
				v.err = fmt.Errorf("%w: body longer than the announced %d bytes", ErrSize, v.size)
				return 0, v.err
			}
			if e != nil && e != io.EOF {
				v.err = e
				return 0, e
			}
			err = io.EOF
		}
		return n, err
	}
	if err == io.EOF {
		if v.size >= 0 {
			v.err = fmt.Errorf("%w: body ended after %d of the announced %d bytes", ErrSize, v.n, v.size)
			return 0, v.err
		}
		if e := v.check(); e != nil {
			v.err = e
			return 0, e
		}
	}
	if err != nil && err != io.EOF {
		v.err = err
	}
	return n, err
}

func (v *verifier) check() error {
	if v.want != "" && v.sum() != v.want {
		return fmt.Errorf("%w: body has SHA-256 %s, expected %s", ErrChecksum, v.sum(), v.want)
	}
	return nil
}

func (v *verifier) sum() string { return hex.EncodeToString(v.h.Sum(nil)) }

// done reports the result once the reader returned io.EOF: the size and
// digest read, or why the body was refused.
func (v *verifier) done() (Info, error) {
	if v.err != nil {
		return Info{}, v.err
	}
	if v.size >= 0 && v.n != v.size {
		return Info{}, fmt.Errorf("%w: body ended after %d of the announced %d bytes", ErrSize, v.n, v.size)
	}
	if err := v.check(); err != nil {
		return Info{}, err
	}
	return Info{Size: v.n, SHA256: v.sum()}, nil
}

// VerifyingReader reads r, which must hold exactly size bytes with the
// SHA-256 sha256hex; otherwise the read that would complete it fails
// (ErrSize, ErrChecksum) and its bytes are withheld, so a copy to an HTTP
// client ends short instead of handing over wrong bytes whole.
func VerifyingReader(r io.Reader, size int64, sha256hex string) io.Reader {
	return newVerifier(r, size, sha256hex)
}
