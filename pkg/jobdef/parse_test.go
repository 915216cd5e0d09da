package jobdef

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimalJob = `
job_name: minimal
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 10}
actions:
- boot:
    method: minimal
`

func TestParseFillsJob(t *testing.T) {
	t.Parallel()
	doc := `
job_name: full job
device_type: dut-sim
priority: high
visibility:
  group: [lab, qa]
tags: [usb, fast]
timeouts:
  job: {hours: 1}
  action: {minutes: 5}
  connection: {seconds: 30}
  actions:
    lava-test-shell: {minutes: 7}
  connections:
    uboot-commands: {seconds: 45}
context:
  arch: amd64
  memory: 1024
metadata:
  build: 42
secrets:
  token: abc
actions:
- deploy:
    to: tmpfs
    timeout: {minutes: 3}
    namespace: one
    images:
      rootfs: {url: 'http://example.com/r.img'}
- boot:
    method: qemu
    media: tmpfs
    namespace: one
- test:
    namespace: one
    timeout: {minutes: 2}
    definitions:
    - {from: git, repository: 'https://git.example/td.git', path: smoke.yaml, name: smoke}
- command:
    name: pdu_reboot
    namespace: one
`
	job, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if job.JobName != "full job" || job.DeviceType != "dut-sim" || job.Priority != 100 {
		t.Errorf("name/type/priority = %q %q %d", job.JobName, job.DeviceType, job.Priority)
	}
	if !reflect.DeepEqual(job.Visibility, Visibility{Kind: "group", Groups: []string{"lab", "qa"}}) {
		t.Errorf("visibility = %+v", job.Visibility)
	}
	if !reflect.DeepEqual(job.Tags, []string{"usb", "fast"}) {
		t.Errorf("tags = %v", job.Tags)
	}
	wantT := Timeouts{Job: time.Hour, Action: 5 * time.Minute, Connection: 30 * time.Second,
		Actions:     map[string]time.Duration{"lava-test-shell": 7 * time.Minute},
		Connections: map[string]time.Duration{"uboot-commands": 45 * time.Second}}
	if !reflect.DeepEqual(job.Timeouts, wantT) {
		t.Errorf("timeouts = %+v", job.Timeouts)
	}
	if job.Context["arch"] != "amd64" || job.Context["memory"] != 1024 || job.Metadata["build"] != 42 || job.Secrets["token"] != "abc" {
		t.Errorf("context/metadata/secrets = %v %v %v", job.Context, job.Metadata, job.Secrets)
	}
	if len(job.Actions) != 4 {
		t.Fatalf("actions = %d", len(job.Actions))
	}
	a := job.Actions[0]
	if a.Kind != "deploy" || a.Method != "tmpfs" || a.Timeout != 3*time.Minute || a.Namespace != "one" || a.Index != 0 || a.Node == nil || a.Node.Content[0].Value != "deploy" {
		t.Errorf("deploy = %+v", a)
	}
	if job.Actions[1].Method != "qemu" || job.Actions[2].Kind != "test" || job.Actions[3].Params["name"] != "pdu_reboot" {
		t.Errorf("actions = %+v", job.Actions)
	}
	if job.Root == nil || job.MultiNode != nil {
		t.Errorf("root %v multinode %v", job.Root, job.MultiNode)
	}
}

func TestParsePriorityAndVisibility(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want int
	}{
		{"priority: high", 100}, {"priority: medium", 50}, {"priority: low", 0},
		{"priority: 17", 17}, {"priority: true", 1}, {"", DefaultPriority},
	} {
		job, err := Parse([]byte(minimalJob + tc.line + "\n"))
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if job.Priority != tc.want {
			t.Errorf("%q: priority %d, want %d", tc.line, job.Priority, tc.want)
		}
	}
	job, err := Parse([]byte(strings.Replace(minimalJob, "visibility: public", "visibility: personal", 1)))
	if err != nil || job.Visibility.Kind != "personal" {
		t.Errorf("personal: %v %+v", err, job)
	}
}

func TestParseMultinode(t *testing.T) {
	t.Parallel()
	doc := `
job_name: mn
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode:
    timeout: {minutes: 6}
    roles:
      server: {device_type: qemu, count: 1, context: {arch: amd64}}
      client: {device_type: dut-sim, count: 2, tags: [x]}
actions:
- boot: {method: minimal, role: [server, client]}
`
	job, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	mn := job.MultiNode
	if mn == nil || mn.Timeout != 6*time.Minute || len(mn.Roles) != 2 {
		t.Fatalf("multinode = %+v", mn)
	}
	if r := mn.Roles["client"]; r.DeviceType != "dut-sim" || r.Count != 2 || !reflect.DeepEqual(r.Tags, []string{"x"}) {
		t.Errorf("client = %+v", r)
	}
	if !reflect.DeepEqual(mn.RoleNames(), []string{"client", "server"}) || !reflect.DeepEqual(job.Actions[0].Role, []string{"server", "client"}) {
		t.Errorf("roles %v / %v", mn.RoleNames(), job.Actions[0].Role)
	}
}

func TestParseErrorsHavePositions(t *testing.T) {
	t.Parallel()
	doc := `job_name: x
device_type: qemu
visibility: public
timeouts:
  job: {minutes: 10}
actions:
- deploy:
    to: tmpfs
    images: {rootfs: {url: 'http://x'}}
- boot:
    prompts: ['# ']
- boot:
    method: nosuch
`
	_, err := Parse([]byte(doc))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v", err)
	}
	want := ErrorList{
		{Path: "actions[1].boot.method", Line: 11, Column: 5, Message: "required key not provided"},
		{Path: "actions[2].boot.method", Line: 13, Column: 13},
	}
	if len(list) != len(want) {
		t.Fatalf("errors = %v", list)
	}
	for i, w := range want {
		g := list[i]
		if g.Path != w.Path || g.Line != w.Line || g.Column != w.Column || (w.Message != "" && g.Message != w.Message) {
			t.Errorf("error %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(list[1].Message, `unknown boot method "nosuch"`) || !strings.Contains(list[1].Message, "u-boot") {
		t.Errorf("message = %q", list[1].Message)
	}
}

func TestParseStrict(t *testing.T) {
	t.Parallel()
	doc := minimalJob + "unknown_top: 1\n"
	if _, err := ParseWith([]byte(doc), Options{}); err != nil {
		t.Errorf("not strict: %v", err)
	}
	_, err := ParseWith([]byte(doc), Options{Strict: true})
	if err == nil || !strings.Contains(err.Error(), "unknown_top: extra key not allowed") {
		t.Errorf("strict: %v", err)
	}
	// Context keys are checked whatever strict says.
	_, err = ParseWith([]byte(minimalJob+"context: {nosuch: 1}\n"), Options{})
	if err == nil || !strings.Contains(err.Error(), "context.nosuch") {
		t.Errorf("context: %v", err)
	}
}

func TestParseLimits(t *testing.T) {
	t.Parallel()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		name := string(rune('b' + i))
		bomb += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	deep := strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	for name, doc := range map[string]string{
		"alias bomb": bomb,
		"too deep":   "job_name: " + deep + "\n",
		"too big":    strings.Repeat("#", MaxDefinitionBytes+1),
		"recursive":  "a: &a [*a]\n",
		"two docs":   minimalJob + "---\n" + minimalJob,
		"empty":      "",
		"not a map":  "- 1\n",
		"bad yaml":   "a: [\n",
		"bad tag":    "a: !python/object x\n",
	} {
		_, err := Parse([]byte(doc))
		var list ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
