package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	pkgevents "golava/pkg/events"
	"golava/pkg/jobdef"
	"golava/server/admin"
	"golava/server/api"
	"golava/server/artifacts"
	"golava/server/notify"
	"golava/server/store"
)

func splitWords(s string) []string { return strings.Fields(s) }
func joinWords(w []string) string  { return strings.Join(w, " ") }

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// envBool reads a boolean fallback; a bad value is reported by name.
func envBool(name string, def bool, bad *error) bool {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		*bad = fmt.Errorf("%s=%q: not a boolean", name, v)
		return def
	}
	return b
}

// flags is a FlagSet with the database URL every command takes.
type flags struct {
	*flag.FlagSet
	dbURL  *string
	envErr error
}

func newFlags(name, argsUsage string, cio cmdIO) *flags {
	fs := flag.NewFlagSet("lava-server "+name, flag.ContinueOnError)
	fs.SetOutput(cio.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lava-server %s [flags] %s\n\nflags:\n", name, argsUsage)
		fs.PrintDefaults()
	}
	f := &flags{FlagSet: fs}
	f.dbURL = fs.String("database-url", env("LAVA_DATABASE_URL", ""), "PostgreSQL URL, e.g. postgres://lava@127.0.0.1/lava (env LAVA_DATABASE_URL)")
	return f
}

// parse accepts flags before and after positional arguments ("users add
// bob --superuser"), checks the count of positionals, and returns the exit
// code to use when it fails (0 for --help).
func (f *flags) parse(args []string, minPos, maxPos int) ([]string, int, bool) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		rest := f.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...) // everything after "--" is positional
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if f.envErr != nil {
		fmt.Fprintf(f.Output(), "%s: %v\n", f.Name(), f.envErr)
		return nil, 2, false
	}
	if len(pos) < minPos || (maxPos >= 0 && len(pos) > maxPos) {
		fmt.Fprintf(f.Output(), "%s: wrong number of arguments\n", f.Name())
		f.Usage()
		return nil, 2, false
	}
	return pos, 0, true
}

func logger(level string, cio cmdIO) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(cio.stderr, &slog.HandlerOptions{Level: lvl})), nil
}

// fail prints err for command name and returns exit code 1.
func fail(cio cmdIO, name string, err error) int {
	fmt.Fprintf(cio.stderr, "lava-server %s: %v\n", name, err)
	return 1
}

func cmdServe(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("serve", "", cio)
	listen := f.String("listen", env("LAVA_LISTEN", "127.0.0.1:8000"), "address to listen on (env LAVA_LISTEN)")
	dtDir := f.String("device-types", env("LAVA_DEVICE_TYPES_DIR", ""), "extra folder of device-type templates *.jinja2 (env LAVA_DEVICE_TYPES_DIR)")
	dispDir := f.String("dispatcher-dir", env("LAVA_DISPATCHER_DIR", ""), "folder of per-worker dispatcher.yaml/env.yaml, as /etc/lava-server/dispatcher.d (env LAVA_DISPATCHER_DIR)")
	realmSockets := f.String("realm-event-socket", env("LAVA_REALM_EVENT_SOCKETS", ""), "comma-separated REALM=ADDRESS of the publisher's per-realm ZMQ sockets (lava-publisher --zmq-realm), answered to callers of that realm (env LAVA_REALM_EVENT_SOCKETS)")
	eventSocket := f.String("event-socket", env("LAVA_EVENT_SOCKET", ""), "the publisher's ZMQ address that scheduler.get_publisher_event_socket answers, e.g. tcp://lava.example:5500 (env LAVA_EVENT_SOCKET)")
	maxBody := f.Int64("max-body", 10<<20, "largest request body in bytes (env LAVA_MAX_BODY)")
	if v, ok := os.LookupEnv("LAVA_MAX_BODY"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			f.envErr = fmt.Errorf("LAVA_MAX_BODY=%q: not a positive integer", v)
		}
		*maxBody = n
	}
	autoReg := f.Bool("auto-register", envBool("LAVA_WORKER_AUTO_REGISTER", true, &f.envErr), "let workers register from loopback without credentials, as LAVA's WORKER_AUTO_REGISTER (env LAVA_WORKER_AUTO_REGISTER)")
	events := f.Bool("events", envBool("LAVA_SERVE_EVENTS", true, &f.envErr), "serve the event WebSocket /ws/ from this process (env LAVA_SERVE_EVENTS)")
	notifyOn := f.Bool("notify", envBool("LAVA_NOTIFY", true, &f.envErr), "with --events, send job notifications (notify blocks: callbacks, and mail with --smtp) (env LAVA_NOTIFY)")
	var notifyCfg notify.Config
	smtp := f.String("smtp", os.Getenv("LAVA_SMTP"), "SMTP server host:port for notification mails; empty: no mail (env LAVA_SMTP)")
	f.StringVar(&notifyCfg.SMTPTLS, "smtp-tls", env("LAVA_SMTP_TLS", "none"), "none, starttls or tls (env LAVA_SMTP_TLS)")
	f.StringVar(&notifyCfg.SMTPUser, "smtp-user", os.Getenv("LAVA_SMTP_USER"), "SMTP user; the password is read from env LAVA_SMTP_PASSWORD (env LAVA_SMTP_USER)")
	f.StringVar(&notifyCfg.From, "mail-from", env("LAVA_MAIL_FROM", "lava@localhost"), "sender of notification mails, as LAVA's SERVER_EMAIL (env LAVA_MAIL_FROM)")
	f.StringVar(&notifyCfg.BaseURL, "base-url", os.Getenv("LAVA_BASE_URL"), "the server's public URL, for links in mails and realm notices (env LAVA_BASE_URL)")
	level := f.String("log-level", env("LAVA_LOG_LEVEL", "info"), "debug, info, warn or error (env LAVA_LOG_LEVEL)")
	var artCfg artifacts.Config
	artCfg.Flags(f.FlagSet, "") // no folder by default: artifact storage off
	waitDB := f.Duration("wait-db", 60*time.Second, "keep retrying an unreachable database this long at start (env LAVA_WAIT_DB)")
	masterKey := f.String("master-key-file", env("LAVA_MASTER_KEY_FILE", ""), "master key of realm secrets (64 hex digits, mode 0600): jobs may then use /lava/REALM/NAME secrets; created when absent and the database has no realm keys yet (env LAVA_MASTER_KEY_FILE)")
	if v, ok := os.LookupEnv("LAVA_WAIT_DB"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.envErr = fmt.Errorf("LAVA_WAIT_DB=%q: %w", v, err)
		}
		*waitDB = d
	}
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	if *maxBody <= 0 {
		return fail(cio, "serve", fmt.Errorf("--max-body %d: must be positive", *maxBody))
	}
	log, err := logger(*level, cio)
	if err != nil {
		return fail(cio, "serve", err)
	}
	realmEventSockets, err := pkgevents.ParseRealmSockets(*realmSockets)
	if err != nil {
		return fail(cio, "serve", fmt.Errorf("--realm-event-socket: %w", err))
	}
	notifyCfg.SMTPPassword = os.Getenv("LAVA_SMTP_PASSWORD")
	if err := notifyCfg.SetSMTPAddr(*smtp); err != nil {
		return fail(cio, "serve", err)
	}
	var notifyPtr *notify.Config
	if *notifyOn {
		notifyPtr = &notifyCfg
	}
	err = admin.Serve(ctx, admin.ServeConfig{Notify: notifyPtr,
		DatabaseURL: *f.dbURL, Listen: *listen, Events: *events, Logger: log, WaitDB: *waitDB, MasterKeyFile: *masterKey,
		API:       api.Config{MaxBodyBytes: *maxBody, AutoRegister: *autoReg, DeviceTypesDir: *dtDir, DispatcherDir: *dispDir, EventSocket: *eventSocket, RealmEventSockets: realmEventSockets},
		Artifacts: artCfg,
	})
	if err != nil {
		return fail(cio, "serve", err)
	}
	return 0
}

func cmdMigrate(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("migrate", "", cio)
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(cio.stderr, nil))
	if *f.dbURL == "" {
		return fail(cio, "migrate", errors.New("no database URL: pass --database-url or set LAVA_DATABASE_URL"))
	}
	if err := store.MigrateWithLogger(ctx, *f.dbURL, log); err != nil {
		return fail(cio, "migrate", err)
	}
	fmt.Fprintln(cio.stdout, "database is up to date")
	return 0
}

// withStore migrates and opens the database for a command.
func withStore(ctx context.Context, f *flags, cio cmdIO, name string, fn func(*store.Store) error) int {
	st, err := admin.Connect(ctx, *f.dbURL, nil)
	if err != nil {
		return fail(cio, name, err)
	}
	defer st.Close()
	if err := fn(st); err != nil {
		return fail(cio, name, err)
	}
	return 0
}

func cmdUsersAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("users add", "NAME", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	su := f.Bool("superuser", false, "make the user a superuser (and staff)")
	pw := f.String("password", "", "password for the web UI and worker registration (none: token only)")
	pwFile := f.String("password-file", "", "read the password from the first line of this file (keeps it out of ps)")
	email := f.String("email", "", "e-mail address")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	if *pwFile != "" {
		b, err := os.ReadFile(*pwFile)
		if err != nil {
			return fail(cio, "users add", fmt.Errorf("--password-file: %w", err))
		}
		line, _, _ := strings.Cut(string(b), "\n")
		*pw = strings.TrimSuffix(line, "\r")
	}
	return withStore(ctx, f, cio, "users add", func(st *store.Store) error {
		u, err := admin.AddUser(ctx, st, *realm, store.NewUser{Username: pos[0], Password: *pw, Email: *email, IsSuperuser: *su, IsStaff: *su})
		if err == nil {
			fmt.Fprintf(cio.stdout, "user %s added (id %d)\n", u.Username, u.ID)
		}
		return err
	})
}

func cmdTokensAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("tokens add", "", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	user := f.String("user", "", "owner of the token (required)")
	desc := f.String("description", "", "what the token is for")
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	if *user == "" {
		return fail(cio, "tokens add", errors.New("--user is required"))
	}
	return withStore(ctx, f, cio, "tokens add", func(st *store.Store) error {
		secret, err := admin.AddToken(ctx, st, *realm, *user, *desc)
		if err == nil {
			fmt.Fprintln(cio.stdout, secret)
		}
		return err
	})
}

func cmdWorkersAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("workers add", "NAME", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	desc := f.String("description", "", "description of the worker")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "workers add", func(st *store.Store) error {
		token, err := admin.AddWorker(ctx, st, *realm, pos[0], *desc)
		if err == nil {
			fmt.Fprintln(cio.stdout, token)
		}
		return err
	})
}

func cmdDeviceTypesAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("device-types add", "NAME", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	desc := f.String("description", "", "description of the device type")
	freq := f.Int("health-frequency", 24, "run a health check every N hours or jobs")
	denom := f.String("health-denominator", "hours", "hours or jobs")
	noHC := f.Bool("disable-health-check", false, "never run health checks on these devices")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	return withStore(ctx, f, cio, "device-types add", func(st *store.Store) error {
		err := admin.AddDeviceType(ctx, st, *realm, store.NewDeviceType{Name: pos[0], Description: *desc,
			HealthFrequency: *freq, HealthDenominator: *denom, DisableHealthCheck: *noHC})
		if err == nil {
			fmt.Fprintf(cio.stdout, "device type %s added\n", pos[0])
		}
		return err
	})
}

func cmdDevicesAdd(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("devices add", "NAME", cio)
	realm := f.String("realm", "", "realm (default: the default realm)")
	dt := f.String("device-type", "", "device type (required)")
	worker := f.String("worker", "", "worker the device is attached to")
	dict := f.String("dict", "", "device dictionary file (Jinja2)")
	tags := f.String("tags", "", "comma-separated tags, created when new")
	health := f.String("health", store.DeviceUnknown, "initial health: Good, Unknown (a health check runs first), Maintenance...")
	desc := f.String("description", "", "description of the device")
	pos, code, ok := f.parse(args, 1, 1)
	if !ok {
		return code
	}
	if *dt == "" {
		return fail(cio, "devices add", errors.New("--device-type is required"))
	}
	var tagList []string
	for _, t := range strings.Split(*tags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tagList = append(tagList, t)
		}
	}
	return withStore(ctx, f, cio, "devices add", func(st *store.Store) error {
		d, err := admin.AddDevice(ctx, st, *realm, store.NewDevice{Hostname: pos[0], DeviceType: *dt, Worker: *worker,
			Tags: tagList, Health: *health, Description: *desc}, *dict)
		if err == nil {
			fmt.Fprintf(cio.stdout, "device %s added (%s, %s)\n", d.Hostname, d.DeviceType, d.Health)
		}
		return err
	})
}

func cmdValidate(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("validate", "FILE...", cio)
	strict := f.Bool("strict", false, "reject unknown keys everywhere, as lava-common's validate(strict=True)")
	pos, code, ok := f.parse(args, 1, -1)
	if !ok {
		return code
	}
	if admin.ValidateFiles(cio.stdout, pos, *strict) {
		return 0
	}
	return 1
}

func cmdSchema(ctx context.Context, args []string, cio cmdIO) int {
	f := newFlags("schema", "", cio)
	if _, code, ok := f.parse(args, 0, 0); !ok {
		return code
	}
	b, err := jobdef.Schema()
	if err != nil {
		return fail(cio, "schema", err)
	}
	cio.stdout.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		fmt.Fprintln(cio.stdout)
	}
	return 0
}
