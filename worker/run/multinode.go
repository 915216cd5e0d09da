package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golava/coordinator"
	"golava/pkg/jobdef"
)

// MultiNode: a sub-job whose definition carries protocols.lava-multinode
// (target_group, role, group_size, roles as the server writes them) joins
// its group on the coordinator before the first action, waits for its
// expected role when its start is delayed (request: lava-start), serves the
// DUT-side helpers (lava-send, lava-wait, lava-wait-all, lava-sync) from the
// test shell's console loop, and leaves the group (clear_group) at the end.

// CoordinatorConfig is where the coordinator listens, with LAVA's
// lava-coordinator.conf fields; the zero value is localhost:3079.
type CoordinatorConfig struct {
	Host      string
	Port      int
	BlockSize int
	PollDelay time.Duration
}

// ReadCoordinatorConf reads a lava-coordinator.conf (JSON with
// coordinator_hostname, port, blocksize, poll_delay in seconds). A missing
// file gives the defaults and false.
func ReadCoordinatorConf(path string) (CoordinatorConfig, bool, error) {
	var c CoordinatorConfig
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("read %s: %w", path, err)
	}
	var raw struct {
		Host      string   `json:"coordinator_hostname"`
		Port      int      `json:"port"`
		BlockSize int      `json:"blocksize"`
		PollDelay *float64 `json:"poll_delay"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return c, false, fmt.Errorf("%s: invalid JSON settings: %w", path, err)
	}
	c.Host, c.Port, c.BlockSize = raw.Host, raw.Port, raw.BlockSize
	if raw.PollDelay != nil {
		c.PollDelay = time.Duration(*raw.PollDelay * float64(time.Second))
	}
	return c, true, nil
}

// SetAddr sets Host and Port from "host:port" (a bare host keeps the port).
func (c *CoordinatorConfig) SetAddr(addr string) error {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return fmt.Errorf("coordinator address %q: %w", addr, err)
	}
	c.Host = host
	if port != 0 {
		c.Port = port
	}
	return nil
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 || strings.Count(addr, ":") > 1 && !strings.Contains(addr, "]") {
		return strings.Trim(addr, "[]"), 0, nil
	}
	p, err := strconv.Atoi(addr[i+1:])
	if err != nil || p <= 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", addr[i+1:])
	}
	return strings.Trim(addr[:i], "[]"), p, nil
}

// multinode is the MultiNode state of a sub-job.
type multinode struct {
	client     *coordinator.Client
	group      string
	role       string
	groupSize  int
	roles      map[string]string // client (job id) -> role, from the server
	apiTimeout time.Duration     // lava-send/wait/sync: protocol "timeout", else 30 s
	expectRole string            // delayed start: wait for lava_start of this role
	startWait  time.Duration
	joined     bool
}

// multinodeTmp is the DUT's /tmp as seen from the results folder: "/tmp"
// for the usual /lava-<id>, so the caches are where LAVA keeps them
// (/tmp/lava_multi_node_cache.txt), and inside the board's own root for a
// simulated board whose root is a folder of the host.
func multinodeTmp(resultsDir string) string {
	return path.Join(path.Dir(resultsDir), "tmp")
}

// setupMultinode reads protocols.lava-multinode and adds the group to the
// overlay environment; a job without it is left alone.
func (j *Job) setupMultinode(cc CoordinatorConfig) error {
	raw, ok := j.Def.Protocols["lava-multinode"]
	if !ok {
		return nil
	}
	p, _ := raw.(map[string]any)
	mn := &multinode{group: stringOf(p["target_group"]), role: stringOf(p["role"]),
		apiTimeout: coordinator.DefaultAPITimeout, roles: map[string]string{}}
	if mn.group == "" || mn.role == "" {
		return JobError("protocols.lava-multinode: a MultiNode sub-job needs target_group and role (submit the job to a server, which splits it)")
	}
	size, err := strconv.Atoi(stringOf(p["group_size"]))
	if err != nil || size < 1 {
		return JobError("protocols.lava-multinode.group_size: %q is not a group size", stringOf(p["group_size"]))
	}
	mn.groupSize = size
	if rm, ok := p["roles"].(map[string]any); ok {
		for client, role := range rm {
			mn.roles[client] = stringOf(role)
		}
	}
	if t, ok := p["timeout"]; ok {
		d, err := ParseTimeout(t)
		if err != nil {
			return JobError("protocols.lava-multinode.timeout: %v", err)
		}
		mn.apiTimeout = d
	}
	if stringOf(p["request"]) == "lava-start" && stringOf(p["expect_role"]) != "" {
		mn.expectRole = stringOf(p["expect_role"])
		if mn.expectRole == mn.role {
			return JobError("protocols.lava-multinode: expect_role must not match the role declaring lava_start")
		}
		mn.startWait = coordinator.DefaultSystemTimeout
		if t, ok := p["timeout"]; ok {
			mn.startWait, _ = ParseTimeout(t)
		}
	}
	hostname, _ := os.Hostname()
	mn.client = coordinator.NewClient(coordinator.ClientConfig{
		Host: cc.Host, Port: cc.Port, BlockSize: cc.BlockSize, PollDelay: cc.PollDelay,
		Hostname: hostname, ClientName: j.ID, GroupName: mn.group, Role: mn.role, GroupSize: mn.groupSize,
	})
	j.multinode = mn
	mn.exportGroup(j)
	return nil
}

// exportGroup writes what lava-role, lava-group and lava-self print into the
// overlay environment.
func (mn *multinode) exportGroup(j *Job) {
	var group strings.Builder
	clients := make([]string, 0, len(mn.roles))
	for c := range mn.roles {
		clients = append(clients, c)
	}
	slices.Sort(clients)
	for _, c := range clients {
		fmt.Fprintf(&group, "\t%s\t%s\n", c, mn.roles[c])
	}
	env := j.Overlay.Environment
	env["TARGET_ROLE"] = mn.role
	env["LAVA_GROUP"] = group.String()
	env["LAVA_HOSTNAME"] = j.ID
	tmp := multinodeTmp(j.Overlay.ResultsDir)
	env["LAVA_MULTI_NODE_CACHE"] = path.Join(tmp, "lava_multi_node_cache.txt")
	env["LAVA_MULTI_NODE_NETWORK_CACHE"] = path.Join(tmp, "lava_multi_node_network_cache.txt")
}

// multinodeStart joins the group (group_data) and waits for lava_start
// when the start is delayed; both are bounded by the system timeout.
func (j *Job) multinodeStart(ctx context.Context) error {
	mn := j.multinode
	if mn == nil {
		return nil
	}
	j.Log.Debugf("Initialising group %s", mn.group)
	roles, err := mn.client.GroupData(ctx)
	if err != nil {
		return mnError(ctx, "group_data", err)
	}
	mn.joined = true
	if len(mn.roles) == 0 {
		mn.roles = roles
	}
	if mn.expectRole == "" {
		j.Log.Debugf("lava-multinode protocol initialised")
		return nil
	}
	j.Log.Infof("lava-multinode protocol initialised - start is delayed by up to %d seconds", int(mn.startWait.Seconds()))
	j.Log.Debugf("Delaying start for %d seconds, lava_wait_all for role %s", int(mn.startWait.Seconds()), mn.expectRole)
	if _, err := mn.client.WaitStart(ctx, mn.expectRole, mn.startWait); err != nil {
		return mnError(ctx, "lava-start", err)
	}
	return nil
}

// multinodeEnd leaves the group, whatever happened.
func (j *Job) multinodeEnd(ctx context.Context) {
	mn := j.multinode
	if mn == nil || !mn.joined {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), coordinator.DefaultSystemTimeout)
	defer cancel()
	if err := mn.client.ClearGroup(cctx); err != nil {
		j.Log.Warningf("lava-multinode: clear_group failed: %v", err)
		return
	}
	j.Log.Debugf("lava-multinode protocol finalised.")
}

func mnError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, coordinator.ErrTimeout) {
		return &Error{Type: TypeInfrastructure, Msg: fmt.Sprintf("lava-multinode %s timed out", what), Err: err}
	}
	return InfraError("lava-multinode %s: %v", what, err)
}

// mnSignal is "<LAVA_MULTI_NODE> <LAVA_NAME params>" at a line start.
var mnSignal = regexp.MustCompile(`^\s*<LAVA_MULTI_NODE> <LAVA_(\S+) ([^>]+)>`)

// sendParams splits "id k=v k2=v w" before each word=, as LAVA.
var sendParams = regexp.MustCompile(`\s+(?:\w+=)`)

// multinodeLine serves a MultiNode call printed by a DUT-side helper:
// it asks the coordinator, types the reply for the helper, and records a
// multinode-<call>-<id> result under the running definition. It reports
// whether the line was such a call. A call that times out fails the test
// action (LAVA stops the test shell there).
func (j *Job) multinodeLine(ctx context.Context, definition, line string) (bool, error) {
	mn := j.multinode
	if mn == nil || !strings.Contains(line, "<LAVA_MULTI_NODE>") {
		return false, nil
	}
	m := mnSignal.FindStringSubmatch(line)
	if m == nil {
		return false, nil
	}
	name, params := m[1], splitSendParams(m[1], m[2])
	if len(params) == 0 {
		return true, nil
	}
	j.Log.Debugf("Received Multi_Node API <LAVA_%s>", name)
	reply, err := mn.call(ctx, name, params)
	result := "pass"
	if err != nil {
		if ctx.Err() != nil {
			return true, context.Cause(ctx)
		}
		result = "fail"
		j.Log.Warningf("Sync error in multinode signal: %v %s", err, name)
	}
	if definition == "" {
		definition = "lava"
	}
	j.Log.Results(map[string]any{"definition": definition,
		"case": strings.ToLower("multinode-" + name + "-" + params[0]), "result": result})
	if err != nil {
		if errors.Is(err, errNack) {
			return true, TestError("Coordinator was unable to accept LAVA_%s", name)
		}
		return true, TestError("lava-multinode %s %s: %v", strings.ToLower(name), params[0], err)
	}
	if reply != "" {
		if err := j.Console.SendLine(ctx, reply); err != nil {
			return true, err
		}
	}
	return true, nil
}

var errNack = errors.New("nack")

func splitSendParams(name, s string) []string {
	if name != "SEND" {
		return strings.Fields(s)
	}
	var out []string
	s = strings.TrimSpace(s)
	for {
		loc := sendParams.FindStringIndex(s)
		if loc == nil {
			return append(out, s)
		}
		out = append(out, s[:loc[0]])
		s = strings.TrimLeft(s[loc[0]:], " \t")
	}
}

// call makes one API call and returns the line to type back ("" for none).
func (mn *multinode) call(ctx context.Context, name string, p []string) (string, error) {
	id := p[0]
	switch name {
	case "SEND":
		msg := coordinator.NewObject()
		for _, kv := range p[1:] {
			if k, v, ok := strings.Cut(kv, "="); ok && !strings.Contains(v, "=") {
				msg.Set(k, v)
			}
		}
		r, err := mn.client.Send(ctx, id, msg, mn.apiTimeout)
		if err == nil && r.Response == "nack" {
			err = errNack
		}
		return "", err
	case "SYNC":
		r, err := mn.client.Sync(ctx, id, mn.apiTimeout)
		if err != nil {
			return "", err
		}
		return "<LAVA_SYNC_COMPLETE" + nackSuffix(r) + ">", nil
	case "WAIT":
		r, err := mn.client.Wait(ctx, id, mn.apiTimeout)
		if err != nil {
			return "", err
		}
		return "<LAVA_WAIT_COMPLETE" + messagePairs(r) + ">", nil
	case "WAIT_ALL":
		role := ""
		if len(p) > 1 {
			role = p[1]
		}
		r, err := mn.client.WaitAll(ctx, id, role, mn.apiTimeout)
		if err != nil {
			return "", err
		}
		return "<LAVA_WAIT_ALL_COMPLETE" + messagePairs(r) + ">", nil
	}
	return "", fmt.Errorf("unknown MultiNode call LAVA_%s", name)
}

func nackSuffix(r *coordinator.Reply) string {
	if r.Response == "nack" {
		return " nack"
	}
	return ""
}

// messagePairs formats a wait reply " client:key=value ...", in the
// coordinator's order.
func messagePairs(r *coordinator.Reply) string {
	if r.Response == "nack" {
		return " nack"
	}
	obj, ok := r.Message.(*coordinator.Object)
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, client := range obj.Keys() {
		v, _ := obj.Get(client)
		kv, ok := v.(*coordinator.Object)
		if !ok {
			continue
		}
		for _, k := range kv.Keys() {
			val, _ := kv.Get(k)
			fmt.Fprintf(&b, " %s:%s=%s", client, k, plainValue(val))
		}
	}
	return b.String()
}

func plainValue(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return coordinator.EncodePython(v)
}

// isSubJob reports whether def is a MultiNode sub-job as the server writes
// it (protocols.lava-multinode.target_group set). Those are not submission
// documents (a role per action, device_type beside the protocol, roles by
// job id): like LAVA's dispatcher, lava-run does not hold them to the
// submission schema.
func isSubJob(def *jobdef.Job) bool {
	if def == nil {
		return false
	}
	p, _ := def.Protocols["lava-multinode"].(map[string]any)
	return stringOf(p["target_group"]) != ""
}
