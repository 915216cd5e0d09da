package artifactstest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golava/server/artifacts"
)

// EnvS3GW names the versitygw binary; `make s3gw` builds it into
// .cache/bin/versitygw and the Makefile exports this variable.
const EnvS3GW = "GOLAVA_S3GW"

// Binary returns the versitygw path: $GOLAVA_S3GW, else the repository's
// .cache/bin/versitygw. It fails the test when neither exists.
func Binary(t testing.TB) string {
	t.Helper()
	p := os.Getenv(EnvS3GW)
	if p == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				p = filepath.Join(dir, ".cache", "bin", "versitygw")
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatalf("S3 test server: %s is not set and go.mod is not above %s: run `make test` (or `make s3gw`)", EnvS3GW, dir)
			}
			dir = parent
		}
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("S3 test server versitygw missing (%v): run `make test` (or `make s3gw`), or set %s", err, EnvS3GW)
	}
	return p
}

// S3 is one running gateway.
type S3 struct {
	Endpoint  string // 127.0.0.1:PORT
	AccessKey string
	SecretKey string
}

// URL is the --artifacts-s3 form for bucket.
func (s *S3) URL(bucket string) string {
	return fmt.Sprintf("http://%s:%s@%s/%s", s.AccessKey, s.SecretKey, s.Endpoint, bucket)
}

// Config is the backend configuration for bucket.
func (s *S3) Config(bucket string) artifacts.S3Config {
	return artifacts.S3Config{Endpoint: s.Endpoint, Bucket: bucket, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
}

// syncBuf collects the gateway's output for a failure message.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs versitygw on a free port over a fresh folder and waits until
// it answers; it is killed when t ends.
func Start(t testing.TB) *S3 {
	t.Helper()
	bin := Binary(t)
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	s := &S3{AccessKey: "golava" + hex.EncodeToString(key[:4]), SecretKey: hex.EncodeToString(key)}
	root := t.TempDir()
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Endpoint = fmt.Sprintf("127.0.0.1:%d", port)
		out := &syncBuf{}
		cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
			"--port", s.Endpoint, "--quiet", "posix", root)
		cmd.Stdout, cmd.Stderr = out, out
		// A test binary that dies without its clean-ups takes the gateway along.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitListening(s.Endpoint, exited); err != nil {
			_ = cmd.Process.Kill()
			lastErr = fmt.Errorf("%v; output:\n%s", err, out.String())
			continue // most likely the port was taken in between
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		return s
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitListening polls the port until it accepts, the process exits, or a
// generous deadline passes.
func waitListening(addr string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("versitygw exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("versitygw not listening on %s after 30 s", addr)
		case <-tick.C:
		}
	}
}
