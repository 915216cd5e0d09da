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
          - lava-network broadcast lo
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
          - lava-network collect lo server
          - lava-test-case net-query --shell test "$(lava-network query $(lava-group server) ipv4)" = 127.0.0.1
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
			"multinode-wait_all-client-up", "multinode-sync-done", "multinode-send-network_info", "job"},
		false: {"got-address", "server-listed", "net-query", "multinode-wait_all-network_info", "multinode-wait-ready", "multinode-send-client-up",
			"multinode-sync-done", "job"},
	}
	for _, id := range ids {
		cases := l.testCases(id)
		for _, name := range want[id == serverID] {
			if cases[name] != "pass" {
				t.Errorf("sub-job %d: %s = %q, want pass (all: %v)\n%s", id, name, cases[name], cases, tail(l.logs(id), 6000))
			}
		}
	}
	if log := l.logs(ids[1]); !strings.Contains(log, "start is delayed") {
		t.Errorf("client sub-job log does not mention the delayed start:\n%s", tail(log, 4000))
	}
}

// multinodeTimeoutJob: the client waits for a message nobody sends; the
// protocol timeout (5 s) ends its wait.
const multinodeTimeoutJob = `job_name: multinode timeout
visibility: public
timeouts:
  job: {minutes: 3}
  action: {minutes: 2}
protocols:
  lava-multinode:
    roles:
      server: {device_type: dut-sim, count: 1}
      client: {device_type: dut-sim, count: 1}
    timeout: {seconds: 5}
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
      name: idle
      path: inline/idle.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: idle}
        run:
          steps:
          - lava-test-case alive --shell true
- test:
    role: [client]
    definitions:
    - from: inline
      name: stuck
      path: inline/stuck.yaml
      repository:
        metadata: {format: Lava-Test Test Definition 1.0, name: stuck}
        run:
          steps:
          - lava-wait never
          - lava-test-case after-wait --shell true
`

// The MultiNode timeout of a role ends a wait that cannot be answered: the
// waiting sub-job fails its call and ends Incomplete, the other Completes.
func TestMultiNodeWaitTimesOut(t *testing.T) {
	t.Parallel()
	l := startLab(t, 2, storetest.URL(t))
	body, _ := json.Marshal(map[string]string{"definition": multinodeTimeoutJob})
	code, b := l.do("POST", "/api/v0.2/jobs/", "application/json", bytes.NewReader(body))
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %s", code, b)
	}
	var r struct {
		SubIDs []string `json:"job_ids"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.SubIDs) != 2 {
		t.Fatalf("submit reply %s: %v", b, err)
	}
	first, err := strconv.ParseInt(strings.Split(r.SubIDs[0], ".")[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	server, client := first, first+1
	if j := l.waitFinished(server, 2*time.Minute); j.Health != "Complete" {
		t.Fatalf("server sub-job %d: %s (%s)\n%s", server, j.Health, deref(j.FailureComment), tail(l.logs(server), 4000))
	}
	j := l.waitFinished(client, 2*time.Minute)
	if j.Health != "Incomplete" {
		t.Fatalf("client sub-job %d: %s, want Incomplete\n%s", client, j.Health, tail(l.logs(client), 4000))
	}
	cases := l.testCases(client)
	if cases["multinode-wait-never"] != "fail" || cases["after-wait"] != "" {
		t.Fatalf("client results %v: want multinode-wait-never=fail and no after-wait", cases)
	}
	if log := l.logs(client); !strings.Contains(log, "lava-multinode wait never") {
		t.Errorf("client log does not name the call that timed out:\n%s", tail(log, 4000))
	}
}
