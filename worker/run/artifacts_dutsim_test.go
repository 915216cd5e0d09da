package run

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golava/pkg/logfmt"
	"golava/worker/dutsim"
)

// A job on the fake board sends files with lava-artifact-upload: the
// server receives the exact bytes, the log has one summary line per file
// and none of the base64.
func TestDutsimArtifactUpload(t *testing.T) {
	t.Parallel()
	board := startBoard(t, dutsim.Flags{})
	logs := &logServer{}
	store := newArtifactStore(map[string][]byte{})
	mux := http.NewServeMux()
	mux.Handle("/scheduler/internal/v1/jobs/42/logs/", logs)
	mux.Handle(artifactPrefix, store)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg := dutsimConfig(t, board, 60, srv.URL)
	job := strings.Replace(fmt.Sprintf(dutsimJob, 60), `          - lava-test-case pass-case --result pass
          - lava-test-case fail-case --result fail
`, `          - seq 1 20000 > numbers.txt
          - lava-artifact-upload numbers.txt results/numbers.txt
          - printf 'one line\n' > note
          - lava-artifact-upload note
          - lava-artifact-upload missing-file || lava-test-case missing-refused --result pass
`, 1)
	write(t, cfg.JobPath, job)
	out := Run(context.Background(), cfg)
	recs := logs.records(t)
	if out.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", out, dump(recs))
	}
	var numbers strings.Builder
	for i := 1; i <= 20000; i++ {
		fmt.Fprintf(&numbers, "%d\n", i)
	}
	for key, want := range map[string]string{"temp/results/numbers.txt": numbers.String(), "temp/note": "one line\n"} {
		if got, ok := store.get(key); !ok || string(got) != want {
			t.Errorf("%s: %d bytes stored (%v), want %d", key, len(got), ok, len(want))
		}
	}
	res := results(recs)
	for k, v := range map[string]string{"0_smoke/lava-artifact-upload-results_numbers.txt": "pass",
		"0_smoke/lava-artifact-upload-note": "pass", "0_smoke/missing-refused": "pass", "lava/0_smoke": "pass"} {
		if got := res[k]; got == nil || got["result"] != v {
			t.Errorf("result %s = %v, want %s\n%s", k, got, v, dump(recs))
		}
	}
	summaries := 0
	for _, r := range recs {
		s, ok := r.Msg.(string)
		if !ok {
			continue
		}
		if r.Lvl == logfmt.LevelTarget && len(s) > 40 && isBase64Line(s) {
			t.Errorf("base64 in the log: %q", s)
		}
		if strings.HasPrefix(s, "artifact ") && strings.HasSuffix(s, ", uploaded") {
			summaries++
		}
	}
	if summaries != 2 {
		t.Errorf("%d summary lines, want 2\n%s", summaries, dump(recs))
	}
}
