package lab_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golava/server/store/storetest"
)

// multinodeJob: one server and two delayed clients on dut-sim. The server
// starts the clients (lava-start), publishes an address, waits for every
// client, and all three meet at a lava-sync.
const multinodeJob = `job_name: multinode on dut-sim
visibility: public
priority: medium
timeouts:
  job: {minutes: 4}
  action: {minutes: 3}
  connection: {minutes: 2}
protocols:
  lava-multinode:
    roles:
      server:
        device_type: dut-sim
        count: 1
      client:
        device_type: dut-sim
        count: 2
        request: lava-start
        expect_role: server
        host_role: server
    timeout: {minutes: 2}
actions:
- boot:
    role: [server, client]
    method: minimal
    auto_login: {login_prompt: 'dut-sim login:', username: root}
    prompts: ['root@dut-sim:~# ']
- test:
    role: [server]
    definitions:
    - from: inline
      name: serve
      path: inline/serve.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: serve}
        run:
          steps:
          - lava-send lava_start
          - lava-send ready ip=10.0.0.1 port=8080
          - lava-wait-all client-up client
          - lava-test-case clients-up --shell test "$(grep -c ':state=up' "$LAVA_MULTI_NODE_CACHE")" = 2
          - lava-test-case role --shell test "$(lava-role)" = server
          - lava-test-case group --shell test "$(lava-group | grep -c .)" = 3
          - lava-sync done
- test:
    role: [client]
    definitions:
    - from: inline
      name: use
      path: inline/use.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: use}
        run:
          steps:
          - lava-wait ready
          - lava-test-case got-address --shell grep -q ':ip=10.0.0.1$' "$LAVA_MULTI_NODE_CACHE"
          - lava-test-case server-listed --shell test -n "$(lava-group server)"
          - lava-send client-up state=up self=$(lava-self)
          - lava-sync done
`

// Acceptance 3: a three-board MultiNode job through lava-lab ends Complete
// for every sub-job, with the MultiNode calls recorded as results.
func TestMultiNodeJobCompletes(t *testing.T) {
	t.Parallel()
	l := startLab(t, 3, storetest.URL(t))
	body, _ := json.Marshal(map[string]string{"definition": multinodeJob})
	code, b := l.do("POST", "/api/v0.2/jobs/", "application/json", bytes.NewReader(body))
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %s", code, b)
	}
	var r struct {
		SubIDs []string `json:"job_ids"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.SubIDs) != 3 {
		t.Fatalf("submit reply %s: %v", b, err)
	}
	// Sub-jobs "N.i" are rows N+i, inserted in one transaction.
	first, err := strconv.ParseInt(strings.Split(r.SubIDs[0], ".")[0], 10, 64)
	if err != nil {
		t.Fatalf("sub-job id %q: %v", r.SubIDs[0], err)
	}
	var ids []int64
	for i := range r.SubIDs {
		ids = append(ids, first+int64(i))
	}
	serverID := ids[0]
	for _, id := range ids {
		j := l.waitFinished(id, 3*time.Minute)
		if j.Health != "Complete" {
			t.Fatalf("sub-job %d health = %s (failure: %v)\n%s", id, j.Health, deref(j.FailureComment), tail(l.logs(id), 6000))
		}
	}
	want := map[bool][]string{
		true: {"clients-up", "role", "group", "multinode-send-lava_start", "multinode-send-ready",
			"multinode-wait_all-client-up", "multinode-sync-done", "job"},
		false: {"got-address", "server-listed", "multinode-wait-ready", "multinode-send-client-up",
			"multinode-sync-done", "job"},
	}
	for _, id := range ids {
		cases := l.testCases(id)
		for _, name := range want[id == serverID] {
			if cases[name] != "pass" {
				t.Errorf("sub-job %d: %s = %q, want pass (all: %v)", id, name, cases[name], cases)
			}
		}
	}
	if log := l.logs(ids[1]); !strings.Contains(log, "start is delayed") {
		t.Errorf("client sub-job log does not mention the delayed start:\n%s", tail(log, 4000))
	}
}
