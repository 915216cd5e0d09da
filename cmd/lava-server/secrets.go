package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golava/server/admin"
	"golava/server/secrets"
	"golava/server/store"
)

const secretsUsage = "set --realm R NAME [--value-file F] | get --realm R NAME | list --realm R | delete --realm R NAME | rotate-master-key --new-master-key-file F (PATH /lava/REALM/NAME may replace --realm R NAME)"

// cmdSecrets is `secrets set|get|list|delete|rotate-master-key`; a value
// comes from stdin or --value-file, never from the command line (ps, shell
// history).
func cmdSecrets(ctx context.Context, args []string, cio cmdIO) int {
	return secretsCommand(ctx, args, cio, os.Stdin)
}

func secretsCommand(ctx context.Context, args []string, cio cmdIO, stdin io.Reader) int {
	f := newFlags("secrets", secretsUsage, cio)
	keyFile := f.String("master-key-file", env("LAVA_MASTER_KEY_FILE", ""), "file of the master key (64 hex digits, mode 0600); set creates it when absent (env LAVA_MASTER_KEY_FILE)")
	valueFile := f.String("value-file", "", "set: read the value from this file instead of stdin")
	keepNL := f.Bool("keep-newline", false, "set: keep the value's trailing newline (one is dropped by default)")
	newKeyFile := f.String("new-master-key-file", "", "rotate-master-key: the new master key file (created when absent)")
	realm := f.String("realm", "", "the realm of the secret: then give its NAME, not a /lava/REALM/NAME path")
	pos, code, ok := f.parse(args, 1, 2)
	if !ok {
		return code
	}
	verb := pos[0]
	if *realm != "" && len(pos) == 1 && verb != "rotate-master-key" {
		pos = append(pos, "") // list --realm R
	}
	if (verb == "rotate-master-key") != (len(pos) == 1) {
		if len(pos) == 1 {
			fmt.Fprintf(cio.stderr, "lava-server secrets %s: needs --realm R NAME (or a PATH /lava/REALM/NAME)\n", verb)
		} else {
			fmt.Fprintf(cio.stderr, "lava-server secrets %s: takes no PATH\n", verb)
		}
		f.Usage()
		return 2
	}
	name := "secrets " + verb
	if verb != "rotate-master-key" {
		p, err := secretArg(verb, *realm, pos[1])
		if err != nil {
			return fail(cio, name, err)
		}
		pos[1] = p
	}
	return withStore(ctx, f, cio, name, func(st *store.Store) error {
		switch verb {
		case "list":
			realm, err := admin.SecretsRealm(pos[1])
			if err != nil {
				return err
			}
			id, err := st.RealmIDByName(ctx, realm)
			if err != nil {
				return err
			}
			list, err := st.SecretNames(ctx, id)
			for _, n := range list {
				fmt.Fprintf(cio.stdout, "/lava/%s/%s\n", realm, n)
			}
			return err
		case "set":
			return secretSet(ctx, st, cio, stdin, pos[1], *keyFile, *valueFile, *keepNL)
		case "get", "delete":
			box, _, err := admin.OpenSecrets(ctx, st, admin.SecretsConfig{MasterKeyFile: *keyFile})
			if err != nil {
				return err
			}
			if verb == "delete" {
				return box.Delete(ctx, pos[1])
			}
			v, err := box.Get(ctx, pos[1])
			if err == nil {
				_, err = cio.stdout.Write(v)
			}
			return err
		case "rotate-master-key":
			return rotateMasterKey(ctx, st, cio, *keyFile, *newKeyFile)
		}
		return fmt.Errorf("unknown action %q: use set, get, list, delete or rotate-master-key", verb)
	})
}

// secretArg turns --realm R NAME into the path /lava/R/NAME (for list,
// /lava/R); without --realm the argument is the path itself.
func secretArg(verb, realm, arg string) (string, error) {
	if realm == "" {
		return arg, nil
	}
	if err := secrets.ValidRealm(realm); err != nil {
		return "", fmt.Errorf("--realm: %w", err)
	}
	if verb == "list" {
		if arg != "" {
			return "", fmt.Errorf("list --realm %s takes no other argument (got %q)", realm, arg)
		}
		return "/lava/" + realm, nil
	}
	if strings.HasPrefix(arg, "/") {
		return "", fmt.Errorf("with --realm give the secret's NAME, not a path (got %q)", arg)
	}
	if err := secrets.ValidName(arg); err != nil {
		return "", err
	}
	return secrets.Path{Realm: realm, Name: arg}.String(), nil
}

func secretSet(ctx context.Context, st *store.Store, cio cmdIO, stdin io.Reader, path, keyFile, valueFile string, keepNL bool) error {
	if _, err := secrets.ParsePath(path); err != nil {
		return err // before reading stdin or creating a key
	}
	var value []byte
	var err error
	if valueFile != "" {
		value, err = admin.ReadSecretFile(valueFile, keepNL)
	} else {
		value, err = admin.ReadSecretValue(stdin, "stdin", keepNL)
	}
	if err != nil {
		return err
	}
	box, created, err := admin.OpenSecrets(ctx, st, admin.SecretsConfig{MasterKeyFile: keyFile, Create: true})
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(cio.stderr, "lava-server secrets: created a new master key in %s: back it up, without it no secret can be read\n", keyFile)
	}
	return box.Put(ctx, path, value)
}

func rotateMasterKey(ctx context.Context, st *store.Store, cio cmdIO, oldFile, newFile string) error {
	if oldFile == "" || newFile == "" {
		return fmt.Errorf("rotate-master-key needs --master-key-file (current key) and --new-master-key-file")
	}
	oldKey, err := secrets.LoadMasterKeyFile(oldFile)
	if err != nil {
		return err
	}
	newKey, _, err := secrets.EnsureMasterKeyFile(newFile)
	if err != nil {
		return err
	}
	n, err := secrets.RotateMasterKey(ctx, st, oldKey, newKey)
	if err != nil {
		return err
	}
	fmt.Fprintf(cio.stdout, "rewrapped %d realm keys: use %s from now on\n", n, newFile)
	return nil
}
