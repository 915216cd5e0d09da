package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golava/server/secrets"
	"golava/server/store"
)

// SecretsConfig is what `lava-server secrets` needs besides the database.
type SecretsConfig struct {
	// MasterKeyFile holds the master key (64 hex digits, mode 0600).
	MasterKeyFile string
	// Create makes the file with a fresh key when it does not exist (set
	// does; get and delete never invent a key).
	Create bool
}

// OpenSecrets returns a Box over st with the configured master key;
// created reports a freshly generated key the operator must back up.
func OpenSecrets(ctx context.Context, st *store.Store, cfg SecretsConfig) (box *secrets.Box, created bool, err error) {
	if cfg.MasterKeyFile == "" {
		return nil, false, fmt.Errorf("no master key: pass --master-key-file or set LAVA_MASTER_KEY_FILE")
	}
	if cfg.Create {
		if err := refuseSecondKey(ctx, st, cfg.MasterKeyFile); err != nil {
			return nil, false, err
		}
	}
	var key []byte
	if cfg.Create {
		key, created, err = secrets.EnsureMasterKeyFile(cfg.MasterKeyFile)
	} else {
		key, err = secrets.LoadMasterKeyFile(cfg.MasterKeyFile)
	}
	if err != nil {
		return nil, false, err
	}
	box, err = secrets.New(st, key)
	return box, created, err
}

// refuseSecondKey stops set from inventing a master key (say, after a typo
// in the file name) when realm keys made with another one already exist.
func refuseSecondKey(ctx context.Context, st *store.Store, path string) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	has, err := st.HasRealmKeys(ctx)
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("master key file %s does not exist, but the database holds realm keys made with a master key: give that key's file", path)
	}
	return nil
}

// ReadSecretValue reads a secret value from r (stdin or a --value-file),
// bounded to secrets.MaxValueBytes. Unless keepNewline, one trailing
// newline is dropped: `echo TOKEN | lava-server secrets set` stores TOKEN.
func ReadSecretValue(r io.Reader, where string, keepNewline bool) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, secrets.MaxValueBytes+2))
	if err != nil {
		return nil, fmt.Errorf("read secret value from %s: %w", where, err)
	}
	if !keepNewline {
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	if len(b) > secrets.MaxValueBytes {
		return nil, fmt.Errorf("secret value from %s: larger than %d bytes", where, secrets.MaxValueBytes)
	}
	return b, nil
}

// ReadSecretFile is ReadSecretValue from a file.
func ReadSecretFile(path string, keepNewline bool) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--value-file: %w", err)
	}
	defer f.Close()
	return ReadSecretValue(f, path, keepNewline)
}

// SecretsRealm takes the realm of `secrets list`: /lava/REALM, /lava/REALM/
// or a bare REALM.
func SecretsRealm(arg string) (string, error) {
	realm := strings.TrimSuffix(strings.TrimPrefix(arg, "/lava/"), "/")
	if err := secrets.ValidRealm(realm); err != nil {
		return "", fmt.Errorf("list %q: %w (form /lava/REALM)", arg, err)
	}
	return realm, nil
}
