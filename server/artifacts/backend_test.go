package artifacts_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"golava/server/artifacts"
	"golava/server/artifacts/artifactstest"
)

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// failingReader gives n bytes then an error, as a client that disconnects.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func read(t *testing.T, b artifacts.Backend, key string) []byte {
	t.Helper()
	rc, size, err := b.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	if int64(len(got)) != size {
		t.Fatalf("Open(%s) said %d bytes, read %d", key, size, len(got))
	}
	return got
}

func missing(t *testing.T, b artifacts.Backend, key string) {
	t.Helper()
	if _, _, err := b.Open(context.Background(), key); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("Open(%s) of a missing object: %v, want ErrNotFound", key, err)
	}
	if _, err := b.Stat(context.Background(), key); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("Stat(%s) of a missing object: %v, want ErrNotFound", key, err)
	}
}

func list(t *testing.T, b artifacts.Backend, prefix string) []string {
	t.Helper()
	keys, err := b.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// conformance is what every Backend must do, run on FS and on S3.
func conformance(t *testing.T, b artifacts.Backend) {
	ctx := context.Background()
	put := func(key string, data []byte, size int64, sha string) (artifacts.Info, error) {
		return b.Put(ctx, key, bytes.NewReader(data), size, sha)
	}
	mustPut := func(key string, data []byte) {
		t.Helper()
		info, err := put(key, data, int64(len(data)), digest(data))
		if err != nil {
			t.Fatalf("Put(%s): %v", key, err)
		}
		if info.Size != int64(len(data)) || info.SHA256 != digest(data) {
			t.Fatalf("Put(%s) = %+v", key, info)
		}
		// A backend that knows the digest must know the right one.
		if st, err := b.Stat(ctx, key); err != nil || st.Size != info.Size || (st.SHA256 != "" && st.SHA256 != info.SHA256) {
			t.Fatalf("Stat(%s) after Put = %+v, %v", key, st, err)
		}
	}

	t.Run("put get list delete", func(t *testing.T) {
		mustPut("r1/payload/a/b.txt", []byte("hello"))
		mustPut("r1/payload/a/c.txt", []byte("world"))
		mustPut("r1/payload/z", nil) // empty objects are objects
		mustPut("r1/temp/a/b.txt", []byte("other area"))
		mustPut("r2/payload/a/b.txt", []byte("other realm"))
		if got := read(t, b, "r1/payload/a/b.txt"); string(got) != "hello" {
			t.Fatalf("read back %q", got)
		}
		if got := read(t, b, "r1/payload/z"); len(got) != 0 {
			t.Fatalf("empty object read back as %q", got)
		}
		if st, err := b.Stat(ctx, "r1/payload/a/c.txt"); err != nil || st.Size != 5 {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
		want := []string{"r1/payload/a/b.txt", "r1/payload/a/c.txt", "r1/payload/z"}
		if got := list(t, b, "r1/payload/"); !reflect.DeepEqual(got, want) {
			t.Fatalf("List(r1/payload/) = %q, want %q", got, want)
		}
		if got := list(t, b, "r1/payload/a/c"); !reflect.DeepEqual(got, want[1:2]) {
			t.Fatalf("List(r1/payload/a/c) = %q", got)
		}
		if got := list(t, b, "r3/"); len(got) != 0 {
			t.Fatalf("List of an empty realm = %q", got)
		}
		// Replace: the new bytes, whole.
		mustPut("r1/payload/a/b.txt", []byte("hello again"))
		if got := read(t, b, "r1/payload/a/b.txt"); string(got) != "hello again" {
			t.Fatalf("replaced object read back %q", got)
		}
		if err := b.Delete(ctx, "r1/payload/a/b.txt"); err != nil {
			t.Fatal(err)
		}
		missing(t, b, "r1/payload/a/b.txt")
		if err := b.Delete(ctx, "r1/payload/a/b.txt"); err != nil {
			t.Fatalf("deleting a missing object: %v", err)
		}
		if got := read(t, b, "r1/payload/a/c.txt"); string(got) != "world" {
			t.Fatalf("neighbour lost: %q", got)
		}
		if got := read(t, b, "r2/payload/a/b.txt"); string(got) != "other realm" {
			t.Fatalf("other realm's object: %q", got)
		}
	})

	t.Run("computed checksum and unknown size", func(t *testing.T) {
		data := []byte("no checksum given")
		info, err := b.Put(ctx, "r1/temp/computed", io.NopCloser(bytes.NewReader(data)), -1, "")
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(data)) || info.SHA256 != digest(data) {
			t.Fatalf("Put = %+v, want size %d sha %s", info, len(data), digest(data))
		}
		if got := read(t, b, "r1/temp/computed"); !bytes.Equal(got, data) {
			t.Fatalf("read back %q", got)
		}
	})

	t.Run("checksum mismatch stores nothing", func(t *testing.T) {
		wrong := digest([]byte("something else"))
		for _, size := range []int64{5, -1} {
			if _, err := put("r1/payload/bad", []byte("hello"), size, wrong); !errors.Is(err, artifacts.ErrChecksum) {
				t.Fatalf("size %d: Put with a wrong checksum: %v, want ErrChecksum", size, err)
			}
			missing(t, b, "r1/payload/bad")
		}
		// A refused replacement keeps the old object.
		mustPut("r1/payload/keep", []byte("old"))
		if _, err := put("r1/payload/keep", []byte("new"), 3, wrong); !errors.Is(err, artifacts.ErrChecksum) {
			t.Fatalf("replacing with a wrong checksum: %v", err)
		}
		if got := read(t, b, "r1/payload/keep"); string(got) != "old" {
			t.Fatalf("refused replacement changed the object to %q", got)
		}
		if _, err := put("r1/payload/bad", []byte("x"), 1, "nothex"); err == nil {
			t.Fatal("a malformed checksum was accepted")
		}
	})

	t.Run("size mismatch stores nothing", func(t *testing.T) {
		data := []byte("12345")
		if _, err := put("r1/payload/short", data, 10, ""); !errors.Is(err, artifacts.ErrSize) {
			t.Fatalf("short body: %v, want ErrSize", err)
		}
		if _, err := put("r1/payload/long", data, 3, ""); !errors.Is(err, artifacts.ErrSize) {
			t.Fatalf("long body: %v, want ErrSize", err)
		}
		missing(t, b, "r1/payload/short")
		missing(t, b, "r1/payload/long")
	})

	t.Run("interrupted upload leaves nothing visible", func(t *testing.T) {
		cut := errors.New("client went away")
		data := bytes.Repeat([]byte("x"), 100000)
		for _, size := range []int64{int64(len(data)) * 2, -1} {
			_, err := b.Put(ctx, "r1/temp/cut/file", &failingReader{data: data, err: cut}, size, "")
			if err == nil {
				t.Fatalf("size %d: an interrupted upload succeeded", size)
			}
			missing(t, b, "r1/temp/cut/file")
			if got := list(t, b, "r1/temp/cut"); len(got) != 0 {
				t.Fatalf("size %d: listed after an interrupted upload: %q", size, got)
			}
		}
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := b.Put(ctx, "r1/temp/cut/file", bytes.NewReader(data), int64(len(data)), ""); err == nil {
			t.Fatal("an upload with a cancelled context succeeded")
		}
		missing(t, b, "r1/temp/cut/file")
	})

	t.Run("multipart sized body", func(t *testing.T) {
		// Over the S3 backend's part size: the multipart path.
		data := bytes.Repeat([]byte("0123456789abcdef"), (17<<20)/16)
		if _, err := put("r1/temp/big", data, int64(len(data)), digest([]byte("no"))); !errors.Is(err, artifacts.ErrChecksum) {
			t.Fatalf("big body with a wrong checksum: %v", err)
		}
		missing(t, b, "r1/temp/big")
		mustPut("r1/temp/big", data)
		if got := read(t, b, "r1/temp/big"); !bytes.Equal(got, data) {
			t.Fatalf("big body read back %d bytes, differs", len(got))
		}
		if err := b.Delete(ctx, "r1/temp/big"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("path traversal refused", func(t *testing.T) {
		for _, key := range []string{"../x/y", "r1/payload/../../x", "/etc/passwd", "r1/payload/a//b",
			"r1/payload/", "r1", "r1/payload/a\\..\\b", "r1/payload/./a", "r1/payload/a\x00b"} {
			if _, err := put(key, []byte("x"), 1, ""); !errors.Is(err, artifacts.ErrInvalidPath) {
				t.Errorf("Put(%q): %v, want ErrInvalidPath", key, err)
			}
			if _, _, err := b.Open(ctx, key); !errors.Is(err, artifacts.ErrInvalidPath) {
				t.Errorf("Open(%q): %v, want ErrInvalidPath", key, err)
			}
			if err := b.Delete(ctx, key); !errors.Is(err, artifacts.ErrInvalidPath) {
				t.Errorf("Delete(%q): %v, want ErrInvalidPath", key, err)
			}
		}
		if _, err := b.List(ctx, "../"); !errors.Is(err, artifacts.ErrInvalidPath) {
			t.Errorf("List(../): %v", err)
		}
	})
}

func TestFSConformance(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	b, err := artifacts.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, b)
	// Nothing half-written stays behind, and deletes tidied the folders.
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".golava-upload-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "r1", "temp", "cut")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the folder of a failed upload stayed: %v", err)
	}
}

func TestFSConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "r/payload/a", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "r/payload/a/b", strings.NewReader("x"), 1, ""); !errors.Is(err, artifacts.ErrConflict) {
		t.Fatalf("a/b under the file a: %v, want ErrConflict", err)
	}
	if _, err := b.Put(ctx, "r/payload/d/e", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "r/payload/d", strings.NewReader("x"), 1, ""); !errors.Is(err, artifacts.ErrConflict) {
		t.Fatalf("d over the folder d: %v, want ErrConflict", err)
	}
	if _, _, err := b.Open(ctx, "r/payload/d"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("Open of a folder: %v, want ErrNotFound", err)
	}
}

func TestS3Conformance(t *testing.T) {
	t.Parallel()
	gw := artifactstest.Start(t)
	b, err := artifacts.NewS3(context.Background(), gw.Config("conformance"))
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, b)
	// No multipart upload of the refused or interrupted bodies survives.
	client, err := minio.New(gw.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(gw.AccessKey, gw.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for up := range client.ListIncompleteUploads(context.Background(), "conformance", "", true) {
		if up.Err != nil {
			t.Fatal(up.Err)
		}
		t.Errorf("incomplete upload left: %s", up.Key)
	}
	if _, err := artifacts.NewS3(context.Background(), artifacts.S3Config{Endpoint: gw.Endpoint, Bucket: "x", AccessKey: gw.AccessKey, SecretKey: "wrong"}); err == nil {
		t.Fatal("a wrong secret key connected")
	}
}
