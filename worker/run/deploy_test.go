package run

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestDownload(t *testing.T) {
	t.Parallel()
	payload := bytes.Repeat([]byte("golava "), 200_000) // 1.4 MB: several progress lines
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(payload)
	zw.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/img/rootfs.ext4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload)
	})
	mux.HandleFunc("/img/rootfs.ext4.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(gz.Bytes()) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sha := sha256.Sum256(payload)
	gzMD5 := md5.Sum(gz.Bytes())
	local := filepath.Join(t.TempDir(), "kernel")
	os.WriteFile(local, []byte("kernel"), 0o644)
	for _, c := range [][]string{{"xz", "-k", local}, {"zstd", "-q", "-k", local}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", c[0], err, out)
		}
	}

	tests := []struct {
		name     string
		art      artifact
		wantFile string
		wantErr  string
		errType  string
	}{
		{"http sha256", artifact{Key: "rootfs", URL: srv.URL + "/img/rootfs.ext4", Checksums: map[string]string{"sha256sum": hex.EncodeToString(sha[:])}}, "rootfs.ext4", "", ""},
		{"gz md5 of compressed", artifact{Key: "rootfs", URL: srv.URL + "/img/rootfs.ext4.gz", Compression: "gz", Checksums: map[string]string{"md5sum": hex.EncodeToString(gzMD5[:])}}, "rootfs.ext4", "", ""},
		{"file", artifact{Key: "kernel", URL: "file://" + local}, "kernel", "", ""},
		{"mismatch", artifact{Key: "rootfs", URL: srv.URL + "/img/rootfs.ext4", Checksums: map[string]string{"sha256sum": strings.Repeat("0", 64)}}, "", "rootfs: sha256sum mismatch", TypeJob},
		{"404", artifact{Key: "dtb", URL: srv.URL + "/img/missing.dtb"}, "", "dtb: unable to fetch", TypeJob},
		{"missing file", artifact{Key: "kernel", URL: "file:///nonexistent/zImage"}, "", "kernel: unable to open", TypeJob},
		{"scheme", artifact{Key: "kernel", URL: "ftp://x/zImage"}, "", "unsupported url scheme", TypeJob},
		{"server down", artifact{Key: "kernel", URL: "http://127.0.0.1:1/zImage"}, "", "kernel: unable to fetch", TypeInfrastructure},
		{"compression", artifact{Key: "kernel", URL: "file://" + local, Compression: "lzma"}, "", "not supported", TypeJob},
		{"xz", artifact{Key: "kernel", URL: "file://" + local + ".xz", Compression: "xz"}, "kernel", "", ""},
		{"zstd", artifact{Key: "kernel", URL: "file://" + local + ".zst", Compression: "zstd"}, "kernel", "", ""},
		{"corrupt xz", artifact{Key: "kernel", URL: "file://" + local, Compression: "xz"}, "", "xz decompression failed", TypeJob},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := newRecorder()
			p, err := download(context.Background(), NewLogger(rec), nil, tt.art, t.TempDir())
			if tt.wantErr != "" {
				e, ok := err.(*Error)
				if !ok || !strings.Contains(e.Msg, tt.wantErr) || e.Type != tt.errType {
					t.Fatalf("err = %#v, want %s %q", err, tt.errType, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p) != tt.wantFile {
				t.Errorf("path = %s", p)
			}
			if tt.name == "xz" || tt.name == "zstd" {
				if got, _ := os.ReadFile(p); string(got) != "kernel" {
					t.Errorf("%s content %q", tt.name, got)
				}
			}
			if tt.name == "http sha256" {
				got, _ := os.ReadFile(p)
				if !bytes.Equal(got, payload) {
					t.Errorf("content differs: %d bytes", len(got))
				}
				var progress int
				for _, l := range rec.recs {
					if s, ok := l.Msg.(string); ok && strings.HasPrefix(s, "progress") {
						progress++
					}
				}
				if progress < 5 {
					t.Errorf("%d progress lines", progress)
				}
			}
		})
	}
}
