package artifacts

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// DefaultMaxSize bounds one upload unless --artifacts-max-size says
// otherwise.
const DefaultMaxSize int64 = 1 << 30

// Config is the storage part of a server's command line: a folder (the
// default) or an S3 bucket, which wins when both are given.
type Config struct {
	// Dir is the filesystem backend's root; empty with no S3: artifact
	// storage is off.
	Dir string
	// S3 is http(s)://ACCESS:SECRET@HOST:PORT/BUCKET[?region=R].
	S3 string
	// MaxSize bounds one upload in bytes.
	MaxSize int64
	// envErr is a bad LAVA_ARTIFACTS_MAX_SIZE, reported by Backend.
	envErr error
}

// Flags registers --artifacts-dir, --artifacts-s3 and --artifacts-max-size
// (with their LAVA_ARTIFACTS_* environment defaults) on fs. defaultDir is
// the folder used when neither flag nor environment names one.
func (c *Config) Flags(fs *flag.FlagSet, defaultDir string) {
	fs.StringVar(&c.Dir, "artifacts-dir", envOr("LAVA_ARTIFACTS_DIR", defaultDir),
		"folder of the artifact areas (payload, temp) when no --artifacts-s3 (env LAVA_ARTIFACTS_DIR)")
	fs.StringVar(&c.S3, "artifacts-s3", os.Getenv("LAVA_ARTIFACTS_S3"),
		"keep artifacts in an S3 bucket: http[s]://ACCESS:SECRET@HOST:PORT/BUCKET[?region=R]; prefer the env LAVA_ARTIFACTS_S3, a flag shows the secret in ps")
	c.MaxSize = DefaultMaxSize
	if v := os.Getenv("LAVA_ARTIFACTS_MAX_SIZE"); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			c.envErr = fmt.Errorf("LAVA_ARTIFACTS_MAX_SIZE: %w", err)
		}
		c.MaxSize = n
	}
	fs.Func("artifacts-max-size", "largest artifact upload, bytes or with K, M, G suffix (default 1G; env LAVA_ARTIFACTS_MAX_SIZE)", func(s string) error {
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		c.MaxSize = n
		return nil
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ParseSize reads "1048576", "512K", "100M" or "1G" (powers of 1024).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	num := strings.TrimSpace(s)
	if n := len(num); n > 0 {
		switch strings.ToUpper(num[n-1:]) {
		case "K":
			mult, num = 1<<10, num[:n-1]
		case "M":
			mult, num = 1<<20, num[:n-1]
		case "G":
			mult, num = 1<<30, num[:n-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want a positive number of bytes, optionally with K, M or G", s)
	}
	return n * mult, nil
}

// ParseS3URL reads http[s]://ACCESS:SECRET@HOST:PORT/BUCKET[?region=R].
// Errors never repeat the secret.
func ParseS3URL(s string) (S3Config, error) {
	u, err := url.Parse(s)
	if err != nil {
		return S3Config{}, fmt.Errorf("artifacts S3 URL: not a URL (want http[s]://ACCESS:SECRET@HOST:PORT/BUCKET)")
	}
	var c S3Config
	switch u.Scheme {
	case "http":
	case "https":
		c.TLS = true
	default:
		return S3Config{}, fmt.Errorf("artifacts S3 URL: scheme %q: use http or https", u.Scheme)
	}
	if u.Host == "" {
		return S3Config{}, fmt.Errorf("artifacts S3 URL: no HOST:PORT")
	}
	c.Endpoint = u.Host
	c.Bucket = strings.Trim(u.Path, "/")
	if c.Bucket == "" || strings.Contains(c.Bucket, "/") {
		return S3Config{}, fmt.Errorf("artifacts S3 URL: path %q must be exactly one bucket name", u.Path)
	}
	if u.User == nil || u.User.Username() == "" {
		return S3Config{}, fmt.Errorf("artifacts S3 URL: no ACCESS:SECRET@ before the host")
	}
	c.AccessKey = u.User.Username()
	c.SecretKey, _ = u.User.Password()
	if c.SecretKey == "" {
		return S3Config{}, fmt.Errorf("artifacts S3 URL: no secret key after %q:", c.AccessKey)
	}
	q := u.Query()
	c.Region = q.Get("region")
	for k := range q {
		if k != "region" {
			return S3Config{}, fmt.Errorf("artifacts S3 URL: unknown parameter %q (only region=)", k)
		}
	}
	return c, nil
}

// Backend opens the configured store: S3 when set, else the folder; nil
// and no error when neither is configured (artifact storage off).
func (c Config) Backend(ctx context.Context) (Backend, error) {
	if c.envErr != nil {
		return nil, c.envErr
	}
	if c.S3 != "" {
		s3, err := ParseS3URL(c.S3)
		if err != nil {
			return nil, err
		}
		b, err := NewS3(ctx, s3)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	if c.Dir == "" {
		return nil, nil
	}
	b, err := NewFS(c.Dir)
	if err != nil {
		return nil, err
	}
	return b, nil
}
