package runtest

import (
	"fmt"
	"path/filepath"
)

// QemuFixture is everything a QEMU x86_64 job needs, made at test time.
type QemuFixture struct {
	Kernel, Initramfs string
	RepoURL, Commit   string
}

// NewQemuFixture builds the initramfs and the git repository of test
// definitions in dir and finds the Debian kernel.
func NewQemuFixture(dir string) (*QemuFixture, error) {
	k, err := Kernel()
	if err != nil {
		return nil, err
	}
	initrd, err := Initramfs(dir)
	if err != nil {
		return nil, err
	}
	url, commit, err := GitRepo(filepath.Join(dir, "tests-repo"), map[string]string{
		"smoke/git-smoke.yaml": gitDefinition,
		"smoke/check.sh":       "#!/bin/sh\n# a helper of the repository: proves the clone reached the DUT\necho \"checked $1\"\n",
	})
	if err != nil {
		return nil, err
	}
	return &QemuFixture{Kernel: k, Initramfs: initrd, RepoURL: url, Commit: commit}, nil
}

// gitDefinition is the test definition stored in the git repository.
const gitDefinition = `metadata:
  format: Lava-Test Test Definition 1.0
  name: git-smoke
  description: a test definition fetched with git
params:
  GREETING: default
run:
  steps:
  - ./smoke/check.sh "$GREETING" | grep -q "checked from-job" && lava-test-case repo-script --result pass || lava-test-case repo-script --result fail
  - lava-test-case uname --shell uname -a
  - 'echo "kernel-release: $(uname -r | grep -q . && echo OK || echo BAD)"'
parse:
  pattern: '^(?P<test_case_id>kernel-release): (?P<result>OK|BAD)'
  fixupdict:
    OK: pass
    BAD: fail
`

// Job is a QEMU job: kernel and initramfs to tmpfs from file:// URLs,
// boot method qemu, then a git and an inline test definition, the inline
// one with a measurement and a test set.
func (f *QemuFixture) Job(deviceType string, timeoutMinutes int) string {
	return fmt.Sprintf(`job_name: qemu busybox smoke
device_type: %s
visibility: public
priority: medium
context:
  arch: amd64
  memory: 256
timeouts:
  job: {minutes: %d}
  action: {minutes: 3}
  connection: {minutes: 2}
actions:
- deploy:
    to: tmpfs
    timeout: {minutes: 2}
    images:
      kernel:
        image_arg: -kernel {kernel} -append "console=ttyS0,115200 quiet"
        url: file://%s
      ramdisk:
        image_arg: -initrd {ramdisk}
        url: file://%s
- boot:
    method: qemu
    media: tmpfs
    timeout: {minutes: 4}
    prompts: ['lava-test: # ']
- test:
    timeout: {minutes: 4}
    definitions:
    - from: git
      repository: %s
      revision: %s
      path: smoke/git-smoke.yaml
      name: git-smoke
      params:
        GREETING: from-job
    - from: inline
      name: inline-smoke
      path: inline/inline-smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: inline-smoke
          description: a measurement and a test set
        run:
          steps:
          - lava-test-case busybox-present --shell test -x /bin/busybox
          - lava-test-case mem-total --result pass --measurement $(awk '/MemTotal/ {print $2}' /proc/meminfo) --units kB
          - lava-test-set start network
          - lava-test-case loopback --shell ip link show lo
          - lava-test-set stop network
          - lava-test-case expected-failure --result fail
`, deviceType, timeoutMinutes, f.Kernel, f.Initramfs, f.RepoURL, f.Commit)
}

// QemuResults are the results the job stores: "definition/case" -> result.
var QemuResults = map[string]string{
	"0_git-smoke/repo-script": "pass", "0_git-smoke/uname": "pass", "0_git-smoke/kernel-release": "pass",
	"1_inline-smoke/busybox-present": "pass", "1_inline-smoke/mem-total": "pass",
	"1_inline-smoke/loopback": "pass", "1_inline-smoke/expected-failure": "fail",
	"lava/0_git-smoke": "pass", "lava/1_inline-smoke": "pass", "lava/job": "pass",
	"lava/execute-qemu": "pass", "lava/auto-login-action": "pass",
}
