package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golava/pkg/jobdef"
	"golava/server/store"
)

// MaxDictionaryBytes bounds a device dictionary file.
const MaxDictionaryBytes = 1 << 20

// RealmID resolves a realm name given on the command line ("" is the
// default realm), with an error naming the flag.
func RealmID(ctx context.Context, st *store.Store, name string) (int64, error) {
	if name == "" || name == store.DefaultRealmName {
		return store.DefaultRealm, nil
	}
	r, err := st.RealmByName(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("--realm %q: %w (lava-server realms list shows them)", name, err)
	}
	return r.ID, nil
}

// AddUser creates an account, a member of realm ("" is the default realm).
func AddUser(ctx context.Context, st *store.Store, realm string, nu store.NewUser) (*store.User, error) {
	id, err := RealmID(ctx, st, realm)
	if err != nil {
		return nil, err
	}
	nu.RealmID = id
	return st.CreateUser(ctx, nu)
}

// AddToken creates an API token for username acting in realm and returns
// its secret.
func AddToken(ctx context.Context, st *store.Store, realm, username, description string) (string, error) {
	id, err := RealmID(ctx, st, realm)
	if err != nil {
		return "", err
	}
	u, err := st.UserByName(ctx, username)
	if err != nil {
		return "", fmt.Errorf("add token: %w", err)
	}
	secret, _, err := st.CreateToken(ctx, u.ID, id, description)
	return secret, err
}

// AddWorker creates a worker in realm and returns its token; the token
// binds the worker to that realm.
func AddWorker(ctx context.Context, st *store.Store, realm, name, description string) (string, error) {
	id, err := RealmID(ctx, st, realm)
	if err != nil {
		return "", err
	}
	_, token, err := st.CreateWorker(ctx, id, name, description)
	return token, err
}

// AddDeviceType creates a device type in realm.
func AddDeviceType(ctx context.Context, st *store.Store, realm string, n store.NewDeviceType) error {
	id, err := RealmID(ctx, st, realm)
	if err != nil {
		return err
	}
	_, err = st.CreateDeviceType(ctx, id, n)
	return err
}

// AddDevice creates a device in realm; dictPath, when not empty, is read
// as its Jinja2 dictionary.
func AddDevice(ctx context.Context, st *store.Store, realm string, nd store.NewDevice, dictPath string) (*store.Device, error) {
	id, err := RealmID(ctx, st, realm)
	if err != nil {
		return nil, err
	}
	if dictPath != "" {
		dict, err := ReadDictionary(dictPath)
		if err != nil {
			return nil, err
		}
		nd.Dictionary = dict
	}
	return st.CreateDevice(ctx, id, nd)
}

// ReadDictionary reads a device dictionary file, bounded in size.
func ReadDictionary(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("device dictionary: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxDictionaryBytes+1))
	if err != nil {
		return "", fmt.Errorf("device dictionary %s: %w", path, err)
	}
	if len(b) > MaxDictionaryBytes {
		return "", fmt.Errorf("device dictionary %s: larger than %d bytes", path, MaxDictionaryBytes)
	}
	return string(b), nil
}

// ValidateFiles parses each job definition and writes "FILE: valid" or
// "FILE: invalid: <errors>" for each; it reports whether all were valid.
func ValidateFiles(w io.Writer, paths []string, strict bool) bool {
	ok := true
	for _, p := range paths {
		if err := validateFile(p, strict); err != nil {
			ok = false
			fmt.Fprintf(w, "%s: invalid: %v\n", p, err)
			continue
		}
		fmt.Fprintf(w, "%s: valid\n", p)
	}
	return ok
}

func validateFile(path string, strict bool) error {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return pe.Err
		}
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, jobdef.MaxDefinitionBytes+1))
	if err != nil {
		return err
	}
	if len(data) > jobdef.MaxDefinitionBytes {
		return fmt.Errorf("larger than %d bytes", jobdef.MaxDefinitionBytes)
	}
	_, err = jobdef.ParseWith(data, jobdef.Options{Strict: strict})
	return err
}
