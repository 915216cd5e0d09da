package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names a bucket on an S3-compatible object store.
type S3Config struct {
	Endpoint  string // host:port
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string // empty: the store's default
	TLS       bool   // https
}

// S3 keeps artifacts as objects REALM/AREA/PATH of one bucket. PutObject is
// atomic per object; the body is checked while it streams and the upload
// aborted before its last byte on a mismatch, and the stored size is
// checked afterwards (the object deleted when it differs).
type S3 struct {
	cfg    S3Config
	client *minio.Client
}

// partSize bounds the memory of an upload of unknown size (one buffer) and
// allows objects up to 10000 parts of it (160 GiB).
const partSize = 16 << 20

// shaMeta is the user metadata holding an object's SHA-256, set when the
// digest is known before the upload.
const shaMeta = "Golava-Sha256"

// NewS3 connects to the store and creates the bucket when it is missing.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("artifacts: S3 backend needs an endpoint and a bucket")
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.TLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("artifacts: S3 %s: %w", cfg.Endpoint, err)
	}
	b := &S3{cfg: cfg, client: client}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("artifacts: %s: bucket %q: %w", b, cfg.Bucket, err)
	}
	if !ok {
		if err := client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("artifacts: %s: create bucket %q: %w", b, cfg.Bucket, err)
		}
	}
	return b, nil
}

func (b *S3) String() string {
	scheme := "http"
	if b.cfg.TLS {
		scheme = "https"
	}
	return fmt.Sprintf("s3 %s://%s/%s", scheme, b.cfg.Endpoint, b.cfg.Bucket)
}

func notFound(err error) bool {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) {
		return resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey"
	}
	return false
}

// Put implements Backend.
func (b *S3) Put(ctx context.Context, key string, r io.Reader, size int64, sha string) (Info, error) {
	if err := validKey(key); err != nil {
		return Info{}, err
	}
	v := newVerifier(r, size, sha)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", PartSize: partSize}
	if sha != "" {
		opts.UserMetadata = map[string]string{shaMeta: sha}
	}
	up, err := b.client.PutObject(ctx, b.cfg.Bucket, key, v, size, opts)
	if err != nil {
		if v.err != nil {
			err = v.err // the body's fault, not the store's
		}
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	info, err := v.done()
	if err == nil && up.Size != info.Size {
		err = fmt.Errorf("%w: the store kept %d bytes of %d", ErrSize, up.Size, info.Size)
	}
	if err == nil {
		var st minio.ObjectInfo
		st, err = b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
		if err == nil && st.Size != info.Size {
			err = fmt.Errorf("%w: the store holds %d bytes, %d were sent", ErrSize, st.Size, info.Size)
		}
	}
	if err != nil {
		// Do not leave an object that does not match what was meant.
		_ = b.client.RemoveObject(context.WithoutCancel(ctx), b.cfg.Bucket, key, minio.RemoveObjectOptions{})
		return Info{}, fmt.Errorf("upload %s: %w", key, err)
	}
	return info, nil
}

// Open implements Backend.
func (b *S3) Open(ctx context.Context, key string) (io.ReadCloser, int64, error) {
	if err := validKey(key); err != nil {
		return nil, 0, err
	}
	obj, err := b.client.GetObject(ctx, b.cfg.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, 0, b.objErr(key, err)
	}
	st, err := obj.Stat() // the first request: fails here for a missing key
	if err != nil {
		obj.Close()
		return nil, 0, b.objErr(key, err)
	}
	return obj, st.Size, nil
}

func (b *S3) objErr(key string, err error) error {
	if notFound(err) {
		return fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return fmt.Errorf("%s: %s: %w", b, key, err)
}

// Stat implements Backend.
func (b *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := validKey(key); err != nil {
		return Info{}, err
	}
	st, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, b.objErr(key, err)
	}
	return Info{Size: st.Size, SHA256: st.UserMetadata[shaMeta]}, nil
}

// Delete implements Backend.
func (b *S3) Delete(ctx context.Context, key string) error {
	if err := validKey(key); err != nil {
		return err
	}
	err := b.client.RemoveObject(ctx, b.cfg.Bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !notFound(err) {
		return fmt.Errorf("%s: delete %s: %w", b, key, err)
	}
	return nil
}

// List implements Backend.
func (b *S3) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validKeyPrefix(prefix); err != nil {
		return nil, err
	}
	var keys []string
	for obj := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("%s: list %q: %w", b, prefix, obj.Err)
		}
		if strings.HasSuffix(obj.Key, "/") {
			continue // a folder marker some stores list
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	return keys, nil
}
