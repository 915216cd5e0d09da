package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the size of the master key and of every realm data key
// (AES-256).
const KeySize = 32

// ParseMasterKey decodes a master key written as 64 hex digits (the form
// GenerateMasterKeyFile writes and an environment variable can carry);
// surrounding white space is ignored. where names the source in errors.
func ParseMasterKey(text, where string) ([]byte, error) {
	t := strings.TrimSpace(text)
	key, err := hex.DecodeString(t)
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("master key from %s: want %d hex digits (%d bytes), got %d characters", where, 2*KeySize, KeySize, len(t))
	}
	return key, nil
}

// LoadMasterKeyFile reads a master key file. It refuses a file others can
// read or write: the key opens every secret of every realm.
func LoadMasterKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s: mode %04o lets others read it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("master key file: %w", err)
	}
	return ParseMasterKey(string(b), path)
}

// EnsureMasterKeyFile loads the key at path, first creating the file (mode
// 0600, a fresh key from crypto/rand) when it does not exist. created says
// whether it made a new key: a caller may want to tell the operator to back
// it up, since losing it loses every secret.
func EnsureMasterKeyFile(path string) (key []byte, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		key, err := LoadMasterKeyFile(path)
		return key, false, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("master key file: %w", err)
	}
	key, err = NewKey()
	if err != nil {
		return nil, false, err
	}
	// O_EXCL: if another process created the file meanwhile, use its key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err := LoadMasterKeyFile(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create master key file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(key) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path) // a half-written key must not be picked up later
		return nil, false, fmt.Errorf("write master key file %s: %w", path, werr)
	}
	return key, true, nil
}

// NewKey returns KeySize random bytes from crypto/rand.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}
