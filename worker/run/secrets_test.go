package run

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golava/pkg/mask"
	"golava/worker/dutsim"
)

// TestSecretsMasked runs a dut-sim job whose steps print its secrets (the
// shell trace echoes the commands too) and name a test case and a unit
// after one: no output of lava-run may show a value, and the log shows
// [secret] instead.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	const token = "tok-9f2c81d7e4"
	const quoted = `pa"ss\wd-7b3e` // escaped by the log encoder: masked before it
	board := startBoard(t, dutsim.Flags{})
	cfg := dutsimConfig(t, board, 60, "")
	job := strings.Replace(fmt.Sprintf(dutsimJob, 60), "actions:\n",
		"secrets:\n  API_TOKEN: "+token+"\n  QUOTED: "+strconv.Quote(quoted)+"\nactions:\n", 1)
	job = strings.Replace(job, "          - lava-test-case fail-case --result fail\n", `          - echo "token is $API_TOKEN"
          - printf '%s\n' "$QUOTED"
          - lava-test-case "login-$API_TOKEN" --result pass
          - lava-test-case speed --result pass --measurement 3 --units "u$API_TOKEN"
`, 1)
	write(t, cfg.JobPath, job)
	out := Run(context.Background(), cfg)
	recs := cfg.Stdout.(*logBuffer).records(t)
	if out.Result != "pass" {
		t.Fatalf("outcome %+v\n%s", out, dump(recs))
	}
	res := results(recs)
	if res["0_smoke/login-[secret]"] == nil || res["0_smoke/speed"]["units"] != "u[secret]" {
		t.Errorf("results = %v, want login-[secret] and the units masked", res)
	}
	shown, printed := 0, 0
	for _, r := range recs {
		if m, ok := r.Msg.(string); ok && r.Lvl == "target" && strings.Contains(m, mask.Text) {
			shown++
		}
		if m, ok := r.Msg.(string); ok && (m == "token is [secret]" || m == mask.Text) {
			printed++
		}
	}
	if shown < 3 || printed != 2 {
		t.Errorf("%d target lines with %s, %d printed values masked; want both values masked where printed\n%s", shown, mask.Text, printed, dump(recs))
	}
	outputs := map[string]string{"log": cfg.Stdout.(*logBuffer).buf.String(), "stderr": cfg.Stderr.(*logBuffer).buf.String()}
	entries, err := os.ReadDir(cfg.OutputDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, _ := os.ReadFile(filepath.Join(cfg.OutputDir, e.Name()))
			outputs[e.Name()] = string(b)
		}
	}
	for name, text := range outputs {
		for _, v := range []string{token, quoted, strconv.Quote(quoted), `pa\"ss`, "7b3e"} {
			if strings.Contains(text, v) {
				t.Errorf("%s shows the secret %q", name, v)
			}
		}
	}
}

// TestMaskedWriter: what lava-run writes to stderr (the job's failure
// comment on the server) is masked once the job is read.
func TestMaskedWriter(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	log := NewLogger(SinkFunc(func(string) {}))
	w := maskedWriter{w: &b, log: log}
	fmt.Fprintf(w, "before: s3cr3t\n")
	log.SetMasker(mask.New([]string{"s3cr3t"}))
	n, err := fmt.Fprintf(w, "lava-run: wget https://u:s3cr3t@host failed\n")
	if err != nil || n != len("lava-run: wget https://u:s3cr3t@host failed\n") {
		t.Fatalf("Write = %d, %v: the caller must see its own length", n, err)
	}
	if got, want := b.String(), "before: s3cr3t\nlava-run: wget https://u:[secret]@host failed\n"; got != want {
		t.Fatalf("stderr = %q, want %q", got, want)
	}
}
