// Command lava-server serves the REST API, the worker API and the event
// WebSocket, and administers the lab database (users, tokens, workers,
// device types, devices, job validation). Run `lava-server help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// cmdIO carries the streams of one invocation.
type cmdIO struct {
	stdout, stderr io.Writer
}

// command is one subcommand; path is its words ("users add").
type command struct {
	path    string
	summary string
	run     func(ctx context.Context, args []string, io cmdIO) int
}

var commands = []command{
	{"serve", "serve the REST, worker and event APIs (migrates first)", cmdServe},
	{"migrate", "apply pending database migrations", cmdMigrate},
	{"dump", "back up the whole lab (jobs, logs, results, users, devices) to FILE: dump FILE", cmdDump},
	{"restore", "replace the database with a dump (stop the services first): restore FILE", cmdRestore},
	{"users add", "add a user: users add NAME [--superuser] [--password P] [--email E]", cmdUsersAdd},
	{"tokens add", "add an API token and print it: tokens add --user U [--description D]", cmdTokensAdd},
	{"workers add", "add a worker and print its token: workers add NAME [--description D]", cmdWorkersAdd},
	{"device-types add", "add a device type: device-types add NAME", cmdDeviceTypesAdd},
	{"devices add", "add a device: devices add NAME --device-type T --worker W --dict FILE [--tags a,b]", cmdDevicesAdd},
	{"devices set-health", "maintenance, retire, re-activate, force a health check: devices set-health NAME Maintenance|Retired|Good|Unknown", cmdDevicesSetHealth},
	{"devices dict", "show or replace a device dictionary (checked to render): devices dict get NAME | set NAME FILE", cmdDevicesDict},
	{"workers set-health", "workers set-health NAME Active|Maintenance|Retired", cmdWorkersSetHealth},
	{"workers config", "the worker's dispatcher.yaml: workers config get NAME | set NAME FILE", cmdWorkersDoc("dispatcher")},
	{"workers env", "the worker's env.yaml: workers env get NAME | set NAME FILE", cmdWorkersDoc("env")},
	{"workers env-dut", "the worker's env-dut.yaml: workers env-dut get NAME | set NAME FILE", cmdWorkersDoc("env-dut")},
	{"fair-share", "weights of groups sharing the devices: fair-share list | set GROUP WEIGHT (0 removes)", cmdFairShare},
	{"periodic", "periodic jobs: periodic list | add NAME --cron C [--timezone TZ] --owner U --definition FILE | delete|enable|disable NAME", cmdPeriodic},
	{"secrets", "realm secrets, encrypted: secrets set --realm R NAME (value on stdin) | get --realm R NAME | list --realm R | delete --realm R NAME | rotate-master-key", cmdSecrets},
	{"webhooks", "where a realm's notices are POSTed: webhooks add URL [--secret-file F] | ls | rm URL|ID (--realm R)", cmdWebhooks},
	{"artifacts", "a realm's artifact areas: artifacts put PATH FILE|- | get PATH [FILE] | ls [PREFIX] | rm PATH (--realm R --area payload|temp)", cmdArtifacts},
	{"validate", "validate job definitions: validate FILE...", cmdValidate},
	{"schema", "print the JSON schema of job definitions", cmdSchema},
	{"render-device", "print the device configuration a dictionary renders to: render-device [--templates DIR]... [--context FILE] DICT", cmdRenderDevice},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lava-server COMMAND [flags] [args]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-17s %s\n", c.path, c.summary)
	}
	fmt.Fprintln(w, "\nEvery command takes --help. The database is --database-url or $LAVA_DATABASE_URL.")
}

func run(ctx context.Context, args []string, out, errw io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(out)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		words := len(splitWords(c.path))
		if len(args) >= words && joinWords(args[:words]) == c.path {
			return c.run(ctx, args[words:], cmdIO{out, errw})
		}
	}
	fmt.Fprintf(errw, "lava-server: unknown command %q\n\n", joinWords(args[:min(len(args), 2)]))
	usage(errw)
	return 2
}
