package artifacts_test

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"golava/server/artifacts"
)

func TestValidPath(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"a", "a/b/c.tar.gz", "kernel/Image", "with space/ü.bin", ".hidden", "a..b"} {
		if err := artifacts.ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q) = %v", p, err)
		}
	}
	for p, want := range map[string]string{
		"":                              "empty",
		"/abs":                          "relative",
		"a/":                            "ends with '/'",
		"a//b":                          "empty segment 2",
		"a/../b":                        `segment 2 is ".."`,
		"./a":                           `segment 1 is "."`,
		"..":                            `segment 1 is ".."`,
		"a\\b":                          "backslash",
		"a\nb":                          "unprintable",
		"a\x00":                         "unprintable",
		"\xff":                          "UTF-8",
		"a/.golava-upload-1":            "reserved",
		strings.Repeat("x", 1025):       "more than 1024",
		"a/" + strings.Repeat("x", 256): "segment 2 is 256 bytes",
		"x/" + strings.Repeat("y", 2):   "",
	} {
		err := artifacts.ValidPath(p)
		if want == "" {
			if err != nil {
				t.Errorf("ValidPath(%q) = %v", p, err)
			}
			continue
		}
		if !errors.Is(err, artifacts.ErrInvalidPath) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidPath(%q) = %v, want an error saying %q", p, err, want)
		}
	}
}

func TestParseS3URL(t *testing.T) {
	t.Parallel()
	c, err := artifacts.ParseS3URL("https://AK:S%2Fk@s3.example:9000/bucket?region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	want := artifacts.S3Config{Endpoint: "s3.example:9000", Bucket: "bucket", AccessKey: "AK", SecretKey: "S/k", Region: "eu-west-1", TLS: true}
	if c != want {
		t.Fatalf("ParseS3URL = %+v, want %+v", c, want)
	}
	for in, want := range map[string]string{
		"ftp://a:b@h/b":           "scheme",
		"http://a:b@h/":           "bucket",
		"http://a:b@h/b/c":        "bucket",
		"http://h/b":              "ACCESS:SECRET",
		"http://a@h/b":            "secret",
		"http://a:b@h/b?x=1":      `"x"`,
		"http://a:topsecret@/b":   "HOST",
		"http://a:top secret@h/b": "not a URL",
	} {
		_, err := artifacts.ParseS3URL(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseS3URL(%q) = %v, want an error saying %q", in, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret@") || err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseS3URL(%q) error shows the secret: %v", in, err)
		}
	}
	for in, want := range map[string]int64{"10": 10, "2K": 2048, "3m": 3 << 20, "1G": 1 << 30} {
		if n, err := artifacts.ParseSize(in); err != nil || n != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, n, err)
		}
	}
	for _, in := range []string{"", "0", "-1", "1T", "G", "99999999999G"} {
		if _, err := artifacts.ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

// FuzzValidPath: a path ValidPath accepts stays inside its area's folder,
// is already clean, and round-trips through a storage key.
func FuzzValidPath(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a//b", "./a", "a/..", "é/ü", "a\\b", "/a", "a/.golava-upload-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if artifacts.ValidPath(p) != nil {
			return
		}
		area := filepath.Join("/root", "r", "payload")
		full := filepath.Join(area, filepath.FromSlash(p))
		if !strings.HasPrefix(full, area+string(filepath.Separator)) {
			t.Fatalf("%q escapes the area: %s", p, full)
		}
		if full != area+"/"+p {
			t.Fatalf("%q is not clean: joins to %s", p, full)
		}
		key, err := artifacts.Key("r", "payload", p)
		if err != nil || key != "r/payload/"+p {
			t.Fatalf("Key(%q) = %q, %v", p, key, err)
		}
	})
}

func TestConfigFlags(t *testing.T) {
	t.Setenv("LAVA_ARTIFACTS_DIR", "")
	t.Setenv("LAVA_ARTIFACTS_S3", "")
	t.Setenv("LAVA_ARTIFACTS_MAX_SIZE", "2M")
	var c artifacts.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c.Flags(fs, "/def")
	if c.Dir != "/def" || c.MaxSize != 2<<20 {
		t.Fatalf("defaults: %+v", c)
	}
	dir := t.TempDir()
	if err := fs.Parse([]string{"--artifacts-dir", dir, "--artifacts-max-size", "3K"}); err != nil {
		t.Fatal(err)
	}
	if c.Dir != dir || c.MaxSize != 3<<10 {
		t.Fatalf("flags: %+v", c)
	}
	if b, err := c.Backend(context.Background()); err != nil || b.String() != "fs "+dir {
		t.Fatalf("Backend = %v, %v", b, err)
	}
	if err := fs.Parse([]string{"--artifacts-max-size", "lots"}); err == nil {
		t.Fatal("a bad --artifacts-max-size parsed")
	}
	if b, err := (artifacts.Config{}).Backend(context.Background()); b != nil || err != nil {
		t.Fatalf("nothing configured: %v, %v", b, err)
	}
	if _, err := (artifacts.Config{S3: "ftp://x"}).Backend(context.Background()); err == nil {
		t.Fatal("a bad S3 URL opened")
	}
	t.Setenv("LAVA_ARTIFACTS_MAX_SIZE", "big")
	var bad artifacts.Config
	bad.Flags(flag.NewFlagSet("y", flag.ContinueOnError), dir)
	if _, err := bad.Backend(context.Background()); err == nil || !strings.Contains(err.Error(), "LAVA_ARTIFACTS_MAX_SIZE") {
		t.Fatalf("a bad LAVA_ARTIFACTS_MAX_SIZE: %v", err)
	}
}
