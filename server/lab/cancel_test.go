package lab_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// TestCancelAndResubmit: a running job is canceled over REST (Canceling ->
// the worker stops lava-run -> Canceled, the board powered off), and a
// finished job is resubmitted and runs again under a new id.
func TestCancelAndResubmit(t *testing.T) {
	t.Parallel()
	l := startLab(t, 1, storetest.URL(t))
	quick := l.submit(jobWithSteps("quick", 2*time.Minute, "lava-test-case quick --result pass"))
	if j := l.waitFinished(quick, 2*time.Minute); j.Health != "Complete" {
		t.Fatalf("job %d: %s", quick, j.Health)
	}
	long := l.submit(jobWithSteps("long", 5*time.Minute, "echo sleeping-now", "sleep 300"))
	waitFor(t, 2*time.Minute, "the long job to sleep", func() bool {
		return strings.Contains(l.logsSoFar(long), "sleeping-now")
	})
	asked := time.Now()
	if code, b := l.do("POST", fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", long), "", nil); code != http.StatusOK {
		t.Fatalf("cancel: %d %s", code, b)
	}
	j := l.waitFinished(long, time.Minute)
	t.Logf("canceled job ended %s after the request", time.Since(asked).Round(time.Millisecond))
	if j.Health != "Canceled" {
		t.Fatalf("job %d: %s, want Canceled", long, j.Health)
	}
	power := readFile(t, l.boardDir("dut-sim-01")+"/power.log")
	if lines := strings.Split(power, "\n"); !strings.HasSuffix(lines[len(lines)-1], " off") {
		t.Errorf("board not powered off after the cancel; power log:\n%s", power)
	}
	// A second cancel of a finished job changes nothing.
	if code, b := l.do("POST", fmt.Sprintf("/api/v0.2/jobs/%d/cancel/", long), "", nil); code >= 500 {
		t.Errorf("cancel again: %d %s", code, b)
	}
	if l.job(long).Health != "Canceled" {
		t.Error("second cancel changed the job")
	}

	code, b := l.do("POST", fmt.Sprintf("/api/v0.2/jobs/%d/resubmit/", quick), "", nil)
	var r struct {
		JobIDs []int64 `json:"job_ids"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &r) != nil || len(r.JobIDs) != 1 || r.JobIDs[0] == quick {
		t.Fatalf("resubmit: %d %s", code, b)
	}
	again := l.waitFinished(r.JobIDs[0], 2*time.Minute)
	if again.Health != "Complete" || l.testCases(r.JobIDs[0])["quick"] != "pass" {
		t.Fatalf("resubmitted job %d: %s %v", r.JobIDs[0], again.Health, l.testCases(r.JobIDs[0]))
	}
}
