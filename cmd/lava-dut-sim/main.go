// Command lava-dut-sim runs a simulated board (serve) and talks to one
// (power, console, set, status). See worker/dutsim for the behaviour.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golava/worker/dutsim"
)

const usage = `usage: lava-dut-sim <command> [flags] [args]

Commands:
  serve    --dir DIR [flags]            run one simulated board until SIGINT/SIGTERM
  power    --dir DIR on|off|reset|status  switch the board's power; prints on or off
  console  --dir DIR                    bridge stdin/stdout with the serial console
  set      --dir DIR name=value...      change misbehaviour flags from the next power-on
                                        (hang-at-boot, panic, drop-connection, garbage,
                                        slow, autoboot-delay, boot-lines)
  status   --dir DIR                    print the board status as JSON

Run 'lava-dut-sim <command> --help' for the flags of a command.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "power":
		err = power(ctx, args[1:], stdout, stderr)
	case "console":
		err = console(ctx, args[1:], stdin, stdout, stderr)
	case "set":
		err = set(ctx, args[1:], stderr)
	case "status":
		err = status(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "lava-dut-sim: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*usageError)):
		if msg := err.Error(); msg != "" { // the flag package reports its own
			fmt.Fprintf(stderr, "lava-dut-sim %s: %s\n", args[0], msg)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "lava-dut-sim %s: %v\n", args[0], err)
		return 1
	}
}

// usageError makes the command exit 2, as flag errors do.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// newFlags makes a command's flag set with the common --dir flag.
func newFlags(name, args string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: lava-dut-sim %s --dir DIR %s\n", name, args)
		fs.PrintDefaults()
	}
	dir := fs.String("dir", os.Getenv("LAVA_DUT_SIM_DIR"),
		"board directory holding control.sock, console.sock, power.log and fs/ (env LAVA_DUT_SIM_DIR)")
	return fs, dir
}

// parse parses flags placed before or after positional arguments.
func parse(fs *flag.FlagSet, dir *string, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if *dir == "" {
		fs.Usage()
		return nil, usageErrorf("--dir is required")
	}
	return pos, nil
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, dir := newFlags("serve", "[flags]", stderr)
	name := fs.String("name", envOr("LAVA_DUT_SIM_NAME", dutsim.DefaultName), "board name shown in the banner and logs (env LAVA_DUT_SIM_NAME)")
	delay := fs.Duration("autoboot-delay", envDuration("LAVA_DUT_SIM_AUTOBOOT_DELAY", dutsim.DefaultAutobootDelay), "bootloader autoboot countdown (env LAVA_DUT_SIM_AUTOBOOT_DELAY)")
	lines := fs.Int("boot-lines", envInt("LAVA_DUT_SIM_BOOT_LINES", dutsim.DefaultBootLines), "number of kernel boot lines (env LAVA_DUT_SIM_BOOT_LINES)")
	var f dutsim.Flags
	fs.BoolVar(&f.HangAtBoot, "hang-at-boot", false, "print some kernel lines, then hang forever")
	fs.BoolVar(&f.Panic, "panic", false, "kernel panic during boot")
	fs.BoolVar(&f.DropConnection, "drop-connection", false, "close the console connection during boot")
	fs.BoolVar(&f.Garbage, "garbage", false, "interleave random non-UTF-8 and control bytes with boot output")
	fs.IntVar(&f.SlowBytesPerSec, "slow", 0, "throttle console output to this many bytes per second (0: no limit)")
	pos, err := parse(fs, dir, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("unexpected argument %q", pos[0])
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := dutsim.Config{Dir: *dir, Name: *name, AutobootDelay: *delay, BootLines: *lines, Flags: f}
	return dutsim.Run(ctx, cfg, logger)
}

func power(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("power", "on|off|reset|status", stderr)
	pos, err := parse(fs, dir, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageErrorf("want exactly one action (on, off, reset or status), got %d", len(pos))
	}
	state, err := dutsim.Power(ctx, *dir, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, state)
	return nil
}

func set(ctx context.Context, args []string, stderr io.Writer) error {
	fs, dir := newFlags("set", "name=value...", stderr)
	pos, err := parse(fs, dir, args)
	if err != nil {
		return err
	}
	kv, err := dutsim.ParseSettings(pos)
	if err != nil {
		return err
	}
	return dutsim.Set(ctx, *dir, kv)
}

func status(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, dir := newFlags("status", "", stderr)
	if _, err := parse(fs, dir, args); err != nil {
		return err
	}
	st, err := dutsim.GetStatus(ctx, *dir)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return n
	}
	return def
}
