package lab_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golava/server/notify/notifytest"
	"golava/server/store/storetest"
)

// Acceptance 4 end to end: a job that runs on dut-sim through lava-lab and
// ends Complete sends its callback (with its results) and its email.
func TestNotifyCallbackAndMailForFinishedJob(t *testing.T) {
	t.Parallel()
	sink := notifytest.StartSMTPSink(t)
	type hit struct {
		auth string
		body []byte
	}
	hits := make(chan hit, 4)
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get("Authorization"), b}
	}))
	t.Cleanup(cb.Close)
	host, port := sink.Addr()
	dir := shortTempDir(t)
	p := startProc(t, "lava-lab", "--data", dir, "--listen", "127.0.0.1:0", "--boards", "1",
		"--coordinator-listen", "127.0.0.1:0", "--database-url", storetest.URL(t),
		"--smtp", host+":"+strconv.Itoa(port), "--mail-from", "lab@example.org")
	m := p.waitOutput(readyRE, 90*time.Second)
	c := &client{t: t, base: m[1], token: readFile(t, filepath.Join(dir, "admin-token"))}

	def := jobWithSteps("notified", 2*time.Minute, "lava-test-case ok --shell true") +
		"notify:\n  criteria: {status: complete}\n  recipients:\n  - to: {method: email, email: dev@example.org}\n" +
		"  callbacks:\n  - url: " + cb.URL + "/job/{ID}\n    method: POST\n    token: cb-secret\n    content-type: json\n    dataset: all\n"
	id := c.submit(def)
	if j := c.waitFinished(id, 2*time.Minute); j.Health != "Complete" {
		t.Fatalf("job %d: %s (%s)", id, j.Health, deref(j.FailureComment))
	}
	select {
	case h := <-hits:
		var data map[string]any
		if err := json.Unmarshal(h.body, &data); err != nil {
			t.Fatalf("callback body %s: %v", h.body, err)
		}
		results, _ := data["results"].(map[string]any)
		if h.auth != "cb-secret" || data["id"] != float64(id) || data["health"] != "Complete" ||
			!strings.Contains(data["log"].(string), "lava-test-shell") || !strings.Contains(results["lava"].(string), "name: job") {
			t.Fatalf("callback: auth %q data %.600s", h.auth, h.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no callback within 30 s")
	}
	select {
	case msg := <-sink.Msgs:
		if msg.From != "lab@example.org" || msg.To[0] != "dev@example.org" ||
			!strings.Contains(msg.Data, "Subject: LAVA notification for Test Job "+strconv.FormatInt(id, 10)) ||
			!strings.Contains(msg.Data, "Health:    Complete") {
			t.Fatalf("mail %+v", msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no mail within 30 s")
	}
}
