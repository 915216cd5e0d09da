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

// AddUser creates an account.
func AddUser(ctx context.Context, st *store.Store, nu store.NewUser) (*store.User, error) {
	return st.CreateUser(ctx, nu)
}

// AddToken creates an API token for username and returns its secret.
func AddToken(ctx context.Context, st *store.Store, username, description string) (string, error) {
	u, err := st.UserByName(ctx, username)
	if err != nil {
		return "", fmt.Errorf("add token: %w", err)
	}
	secret, _, err := st.CreateToken(ctx, u.ID, description)
	return secret, err
}

// AddWorker creates a worker in the default realm and returns its token.
func AddWorker(ctx context.Context, st *store.Store, name, description string) (string, error) {
	_, token, err := st.CreateWorker(ctx, store.DefaultRealm, name, description)
	return token, err
}

// AddDeviceType creates a device type in the default realm.
func AddDeviceType(ctx context.Context, st *store.Store, n store.NewDeviceType) error {
	_, err := st.CreateDeviceType(ctx, store.DefaultRealm, n)
	return err
}

// AddDevice creates a device in the default realm; dictPath, when not
// empty, is read as its Jinja2 dictionary.
func AddDevice(ctx context.Context, st *store.Store, nd store.NewDevice, dictPath string) (*store.Device, error) {
	if dictPath != "" {
		dict, err := ReadDictionary(dictPath)
		if err != nil {
			return nil, err
		}
		nd.Dictionary = dict
	}
	return st.CreateDevice(ctx, store.DefaultRealm, nd)
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
