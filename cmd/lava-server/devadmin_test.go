package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golava/server/store/storetest"
)

func TestDeviceWorkerAdminCommands(t *testing.T) {
	t.Parallel()
	db := storetest.URL(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.jinja2", "{% extends 'dut-sim.jinja2' %}\n{% set dut_sim_dir = '/srv/b1' %}\n")
	bad := write("bad.jinja2", "{% extends 'no-such-type.jinja2' %}\n")
	conf := write("dispatcher.yaml", "dispatcher_ip: 10.1.1.1\n")
	job := write("job.yaml", "device_type: dut-sim\njob_name: nightly\nvisibility: public\ntimeouts: {job: {minutes: 5}}\nactions:\n- boot: {method: minimal}\n")
	steps := []struct {
		args []string
		code int
		out  string // substring of stdout, or of stderr when code != 0
	}{
		{[]string{"workers", "add", "w1"}, 0, ""},
		{[]string{"device-types", "add", "dut-sim"}, 0, "added"},
		{[]string{"devices", "add", "b1", "--device-type", "dut-sim", "--worker", "w1", "--health", "Good"}, 0, "added"},
		{[]string{"devices", "set-health", "b1", "maintenance"}, 0, "device b1: Maintenance"},
		{[]string{"devices", "set-health", "b1", "RETIRED"}, 0, "device b1: Retired"},
		{[]string{"devices", "set-health", "b1", "Good"}, 0, "device b1: Good"},
		{[]string{"devices", "set-health", "b1", "Unknown"}, 0, "device b1: Unknown"},
		{[]string{"devices", "set-health", "b1", "Dead"}, 1, "not one of"},
		{[]string{"devices", "set-health", "nope", "Good"}, 1, "not found"},
		{[]string{"devices", "dict", "set", "b1", good}, 0, "dictionary updated"},
		{[]string{"devices", "dict", "set", "b1", bad}, 1, "does not render"},
		{[]string{"devices", "dict", "get", "b1"}, 0, "dut_sim_dir = '/srv/b1'"},
		{[]string{"devices", "dict", "frob", "b1"}, 2, "usage"},
		{[]string{"workers", "set-health", "w1", "MAINTENANCE"}, 0, "worker w1: Maintenance"},
		{[]string{"workers", "set-health", "w1", "Broken"}, 1, "not one of"},
		{[]string{"workers", "config", "set", "w1", conf}, 0, "updated"},
		{[]string{"workers", "config", "get", "w1"}, 0, "dispatcher_ip: 10.1.1.1"},
		{[]string{"workers", "env", "get", "w1"}, 0, ""},
		{[]string{"workers", "env-dut", "set", "w9", conf}, 1, "not found"},
		{[]string{"fair-share", "set", "nogroup", "2"}, 1, "not found"},
		{[]string{"fair-share", "set", "g", "x"}, 1, "not a number"},
		{[]string{"fair-share", "list"}, 0, ""},
		{[]string{"users", "add", "ci"}, 0, "added"},
		{[]string{"periodic", "add", "nightly", "--cron", "0 3 * * *", "--timezone", "Europe/Paris", "--owner", "ci", "--definition", job}, 0, "next run"},
		{[]string{"periodic", "add", "again", "--cron", "0 3 * *", "--owner", "ci", "--definition", job}, 1, "5 fields"},
		{[]string{"periodic", "add", "bad", "--cron", "0 3 * * *", "--owner", "ci", "--definition", bad}, 1, "definition"},
		{[]string{"periodic", "add", "nobody", "--cron", "0 3 * * *", "--owner", "zz", "--definition", job}, 1, "owner"},
		{[]string{"periodic", "disable", "nightly"}, 0, ""},
		{[]string{"periodic", "list"}, 0, "nightly\t0 3 * * * (Europe/Paris)\towner ci\tnext -"},
		{[]string{"periodic", "enable", "nightly"}, 0, ""},
		{[]string{"periodic", "delete", "nightly"}, 0, ""},
		{[]string{"periodic", "delete", "nightly"}, 1, "not found"},
	}
	for _, s := range steps {
		code, out, errOut := lavaServer(t, append(s.args, "--database-url", db)...)
		got := out
		if s.code != 0 {
			got = errOut
		}
		if code != s.code || !strings.Contains(strings.ToLower(got), strings.ToLower(s.out)) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d with %q", s.args, code, out, errOut, s.code, s.out)
		}
	}
}
