package run

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golava/pkg/logfmt"
	"golava/pkg/testshell"
)

// artifactStore is the server side of the artifact worker API for job 42:
// GET .../artifacts/AREA/PATH answers the bytes and their X-Checksum-SHA256,
// PUT .../artifacts/temp/PATH stores a body whose checksum matches.
type artifactStore struct {
	mu    sync.Mutex
	files map[string][]byte // "area/path" -> bytes
	// lie names files whose announced checksum is wrong (a corrupt store).
	lie  map[string]bool
	puts int
}

const artifactPrefix = "/scheduler/internal/v1/jobs/42/artifacts/"

func newArtifactStore(files map[string][]byte) *artifactStore {
	return &artifactStore{files: files, lie: map[string]bool{}}
}

func (s *artifactStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("LAVA-Token") != "job-token" {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error": "Invalid job token"}`)
		return
	}
	key, ok := strings.CutPrefix(r.URL.Path, artifactPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		data, ok := s.files[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"error": "Artifact %s not found"}`, key)
			return
		}
		sum := sha256.Sum256(data)
		if s.lie[key] {
			sum[0]++
		}
		w.Header().Set("X-Checksum-SHA256", hex.EncodeToString(sum[:]))
		w.Write(data)
	case http.MethodPut:
		data, err := io.ReadAll(r.Body)
		sum := sha256.Sum256(data)
		if err != nil || !strings.HasPrefix(key, "temp/") || r.Header.Get("X-Checksum-SHA256") != hex.EncodeToString(sum[:]) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error": "checksum mismatch"}`)
			return
		}
		s.files[key] = data
		s.puts++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"path": %q, "size": %d, "sha256": %q}`, strings.TrimPrefix(key, "temp/"), len(data), hex.EncodeToString(sum[:]))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (s *artifactStore) get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.files[key]
	return b, ok
}

func startArtifactStore(t *testing.T, files map[string][]byte) (*artifactStore, *artifactServer) {
	t.Helper()
	st := newArtifactStore(files)
	srv := httptest.NewServer(st)
	t.Cleanup(srv.Close)
	return st, newArtifactServer(Config{URL: srv.URL + "/", JobID: "42", Token: "job-token"})
}

func TestDownloadRealmArtifact(t *testing.T) {
	t.Parallel()
	kernel := bytes.Repeat([]byte("vmlinuz "), 50_000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(kernel)
	zw.Close()
	md := md5.Sum(kernel)
	st, srv := startArtifactStore(t, map[string][]byte{
		"payload/img/vmlinuz":     kernel,
		"payload/img/rootfs.gz":   gz.Bytes(),
		"temp/build 1/out.bin":    []byte("from job 1"),
		"payload/corrupt/vmlinuz": kernel,
	})
	st.lie["payload/corrupt/vmlinuz"] = true
	tests := []struct {
		name     string
		srv      *artifactServer
		art      artifact
		want     []byte
		wantErr  string
		wantType string
	}{
		{"payload", srv, artifact{Key: "kernel", URL: "artifact://payload/img/vmlinuz"}, kernel, "", ""},
		{"job md5sum too", srv, artifact{Key: "kernel", URL: "artifact://payload/img/vmlinuz", Checksums: map[string]string{"md5sum": hex.EncodeToString(md[:])}}, kernel, "", ""},
		{"job md5sum wrong", srv, artifact{Key: "kernel", URL: "artifact://payload/img/vmlinuz", Checksums: map[string]string{"md5sum": strings.Repeat("0", 32)}}, nil, "kernel: md5sum mismatch", TypeJob},
		{"gz", srv, artifact{Key: "rootfs", URL: "artifact://payload/img/rootfs.gz", Compression: "gz"}, kernel, "", ""},
		{"temp, escaped blank", srv, artifact{Key: "image", URL: "artifact://temp/build%201/out.bin"}, []byte("from job 1"), "", ""},
		{"missing", srv, artifact{Key: "dtb", Where: "actions[0].deploy.dtb.url", URL: "artifact://temp/none.dtb"}, nil,
			"actions[0].deploy.dtb.url: unable to fetch artifact://temp/none.dtb: not found in the realm's temp area (Artifact temp/none.dtb not found)", TypeJob},
		{"server checksum differs", srv, artifact{Key: "kernel", URL: "artifact://payload/corrupt/vmlinuz"}, nil, "sha256 mismatch for artifact://payload/corrupt/vmlinuz", TypeInfrastructure},
		{"no server", nil, artifact{Key: "kernel", Where: "actions[0].deploy.kernel.url", URL: "artifact://payload/img/vmlinuz"}, nil,
			"actions[0].deploy.kernel.url: artifact://payload/img/vmlinuz: artifact:// needs the server URL", TypeJob},
		{"bad area", srv, artifact{Key: "kernel", URL: "artifact://secrets/x"}, nil, `unknown artifact area "secrets"`, TypeJob},
		{"dot dot", srv, artifact{Key: "kernel", URL: "artifact://payload/a/../../etc/passwd"}, nil, "empty, . or .. part", TypeJob},
		{"no path", srv, artifact{Key: "kernel", URL: "artifact://payload/"}, nil, "empty artifact path", TypeJob},
		{"bad token", &artifactServer{base: srv.base, token: "nope", client: http.DefaultClient}, artifact{Key: "kernel", URL: "artifact://payload/img/vmlinuz"}, nil, "HTTP 403: Invalid job token", TypeInfrastructure},
		{"server down", newArtifactServer(Config{URL: "http://127.0.0.1:1", JobID: "42"}), artifact{Key: "kernel", URL: "artifact://payload/img/vmlinuz"}, nil, "kernel: unable to fetch artifact://payload/img/vmlinuz", TypeInfrastructure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := download(context.Background(), NewLogger(newRecorder()), tt.srv, tt.art, t.TempDir())
			if tt.wantErr != "" {
				e, ok := err.(*Error)
				if !ok || !strings.Contains(e.Msg, tt.wantErr) || e.Type != tt.wantType {
					t.Fatalf("err = %#v, want %s %q", err, tt.wantType, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, tt.want) {
				t.Errorf("%s: %d bytes, want %d", p, len(got), len(tt.want))
			}
		})
	}
}

func TestURLDefinitionFromRealm(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range map[string]string{"smoke.yaml": "run:\n  steps: [./check.sh]\n", "check.sh": "echo ok\n"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	st, srv := startArtifactStore(t, map[string][]byte{"payload/defs.tar.gz": buf.Bytes(), "payload/bad.tar.gz": buf.Bytes()})
	st.lie["payload/bad.tar.gz"] = true
	for name, tc := range map[string]struct{ url, wantErr string }{
		"ok":      {"artifact://payload/defs.tar.gz", ""},
		"corrupt": {"artifact://payload/bad.tar.gz", "sha256 mismatch for artifact://payload/bad.tar.gz"},
		"missing": {"artifact://payload/none.tar.gz", "actions[1].test.definitions[0].repository: unable to fetch artifact://payload/none.tar.gz: not found"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			j := &Job{Log: NewLogger(newRecorder()), artifacts: srv}
			dir := filepath.Join(t.TempDir(), "def")
			err := j.untarDefinition(context.Background(), &defSource{from: "url", repository: tc.url, where: "actions[1].test.definitions[0]"}, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "check.sh")); string(got) != "echo ok\n" {
				t.Errorf("check.sh = %q", got)
			}
		})
	}
}

// uploadLines is what lava-artifact-upload prints for data, as the DUT's
// console delivers it: CR CR LF line ends, the base64 wrapped at 76.
func uploadLines(name string, data []byte) string {
	sum := sha256.Sum256(data)
	var b strings.Builder
	fmt.Fprintf(&b, "\r\r\n<LAVA_SIGNAL_ARTIFACT_START %s %d %x>\r\r\n", name, len(data), sum)
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\r\n")
		enc = enc[76:]
	}
	if enc != "" {
		b.WriteString(enc + "\r\r\n")
	}
	fmt.Fprintf(&b, "\r\r\n<LAVA_SIGNAL_ARTIFACT_END %s>\r\r\n", name)
	return b.String()
}

// shellRun feeds console output through a Console (log filter included)
// into a test shell state, as testShell does, and returns the log.
func shellRun(t *testing.T, srv *artifactServer, output string) []logfmt.Line {
	t.Helper()
	rec := newRecorder()
	log := NewLogger(rec)
	j := &Job{Log: log, OutDir: t.TempDir(), artifacts: srv}
	c := newConsole(log)
	var lines []string
	c.SetLineHandler(func(l string) { lines = append(lines, l) })
	c.setLogFilter(&artifactGate{})
	// Split the output at odd places, as reads of a serial line do.
	for chunk := []byte(output); len(chunk) > 0; {
		n := min(len(chunk), 37)
		c.feed(chunk[:n])
		chunk = chunk[n:]
	}
	c.idle.Stop()
	ts := &shellState{j: j}
	for _, l := range lines {
		if _, err := ts.handle(context.Background(), testshell.CleanLine(l)); err != nil {
			t.Fatal(err)
		}
	}
	ts.endUpload(context.Background())
	if entries, _ := os.ReadDir(j.OutDir); len(entries) != 0 {
		t.Errorf("files left in the job folder: %v", entries)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.recs
}

func TestArtifactUploadSignals(t *testing.T) {
	t.Parallel()
	data := make([]byte, 3000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	run := "<LAVA_SIGNAL_STARTRUN 0_smoke abc>\r\r\n"
	echo := "root@dut:~# lava-artifact-upload /tmp/out.bin dir/out.bin\r\r\n"
	tests := []struct {
		name, output string
		wantStored   map[string][]byte
		wantResult   map[string]string // case -> result
		wantLog      string
	}{
		{"clean", run + echo + uploadLines("dir/out.bin", data) + "root@dut:~# ",
			map[string][]byte{"temp/dir/out.bin": data},
			map[string]string{"0_smoke/lava-artifact-upload-dir_out.bin": "pass"},
			"artifact dir/out.bin: 3000 bytes, sha256 " + hexsum + ", uploaded"},
		{"empty file", run + uploadLines("empty", nil),
			map[string][]byte{"temp/empty": {}},
			map[string]string{"0_smoke/lava-artifact-upload-empty": "pass"}, "artifact empty: 0 bytes"},
		{"outside a run", uploadLines("x.txt", []byte("x\n")),
			map[string][]byte{"temp/x.txt": []byte("x\n")},
			map[string]string{"lava/lava-artifact-upload-x.txt": "pass"}, "uploaded"},
		{"kernel message in between", run + strings.Replace(uploadLines("k", data), "\r\r\n", "\r\r\n[   12.345] usb 1-1: new device\r\r\n", 3),
			map[string][]byte{"temp/k": data},
			map[string]string{"0_smoke/lava-artifact-upload-k": "pass"}, "uploaded"},
		{"corrupt line", run + func() string {
			s := []byte(uploadLines("c", data))
			i := bytes.Index(s, []byte(">\r\r\n")) + 4
			s[i] ^= 'A' ^ 'B' // still base64, other bytes
			return string(s)
		}(),
			nil, map[string]string{"0_smoke/lava-artifact-upload-c": "fail"}, "artifact c: "},
		{"lost line", run + func() string {
			s := uploadLines("l", data)
			i := strings.Index(s, ">\r\r\n") + 4
			j := strings.Index(s[i:], "\n") + i + 1
			return s[:i] + s[j:]
		}(), nil, map[string]string{"0_smoke/lava-artifact-upload-l": "fail"}, "received 2943 bytes, 3000 announced"},
		{"too big", run + "<LAVA_SIGNAL_ARTIFACT_START big 67108865 ->\r\nAAAA\r\n<LAVA_SIGNAL_ARTIFACT_END big>\r\n",
			nil, map[string]string{"0_smoke/lava-artifact-upload-big": "fail"}, "67108865 bytes is more than the 64 MiB an upload may have"},
		{"escaping name", run + uploadLines("../etc/passwd", data),
			nil, map[string]string{"0_smoke/lava-artifact-upload-.._etc_passwd": "fail"}, "empty, . or .. part"},
		{"no end", run + strings.TrimSuffix(uploadLines("n", data), "\r\r\n<LAVA_SIGNAL_ARTIFACT_END n>\r\r\n") + "<LAVA_SIGNAL_ENDRUN 0_smoke abc>\r\n",
			nil, map[string]string{"0_smoke/lava-artifact-upload-n": "fail", "lava/0_smoke": "pass"}, "no ARTIFACT_END before <ENDRUN>"},
		{"shell ends", run + strings.TrimSuffix(uploadLines("e", data), "\r\r\n<LAVA_SIGNAL_ARTIFACT_END e>\r\r\n"),
			nil, map[string]string{"0_smoke/lava-artifact-upload-e": "fail"}, "the test shell ended before ARTIFACT_END"},
		{"bad start", run + "<LAVA_SIGNAL_ARTIFACT_START x 12>\r\n<LAVA_SIGNAL_ARTIFACT_END x>\r\n",
			nil, map[string]string{"0_smoke/lava-artifact-upload-x": "fail"}, "invalid ARTIFACT_START signal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, srv := startArtifactStore(t, map[string][]byte{})
			recs := shellRun(t, srv, tt.output)
			got := results(recs)
			for k, v := range tt.wantResult {
				if got[k] == nil || got[k]["result"] != v {
					t.Errorf("result %s = %v, want %s\n%s", k, got[k], v, dump(recs))
				}
			}
			var logged strings.Builder
			for _, r := range recs {
				if s, ok := r.Msg.(string); ok {
					if r.Lvl == logfmt.LevelTarget && isBase64Line(s) {
						t.Errorf("base64 line in the log: %q", s)
					}
					logged.WriteString(s + "\n")
				}
			}
			if !strings.Contains(logged.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, dump(recs))
			}
			if strings.Contains(tt.name, "kernel") && !strings.Contains(logged.String(), "usb 1-1: new device") {
				t.Errorf("the kernel messages were not logged:\n%s", dump(recs))
			}
			if tt.wantStored == nil && st.puts != 0 {
				t.Errorf("%d uploads for a failed transfer", st.puts)
			}
			for k, want := range tt.wantStored {
				if b, ok := st.get(k); !ok || !bytes.Equal(b, want) {
					t.Errorf("stored %s = %d bytes (%v), want %d", k, len(b), ok, len(want))
				}
			}
		})
	}
}

func TestArtifactUploadNoServer(t *testing.T) {
	t.Parallel()
	recs := shellRun(t, nil, uploadLines("x", []byte("data")))
	if r := results(recs)["lava/lava-artifact-upload-x"]; r == nil || r["result"] != "fail" || !strings.Contains(fmt.Sprint(r["error"]), "needs the server URL") {
		t.Errorf("result = %v\n%s", r, dump(recs))
	}
}

// A partial base64 line must not be logged by the idle flush while an
// upload is under way; after it, partial lines (a prompt) are logged again.
func TestArtifactGateHolds(t *testing.T) {
	t.Parallel()
	g := &artifactGate{}
	if g.hide([]byte("QUJD")) || g.holding() {
		t.Error("base64-looking line hidden outside an upload")
	}
	if g.hide([]byte("<LAVA_SIGNAL_ARTIFACT_START a 3 x>\r")) || !g.holding() {
		t.Error("start signal hidden, or no transfer under way")
	}
	if !g.hide([]byte("QUJD\r\r")) {
		t.Error("data line logged")
	}
	if g.hide([]byte("+ base64 /tmp/a")) {
		t.Error("trace line hidden")
	}
	if g.hide([]byte("\x1b[0m<LAVA_SIGNAL_ARTIFACT_END a>\r")) || g.holding() {
		t.Error("end signal hidden, or still holding")
	}
}
