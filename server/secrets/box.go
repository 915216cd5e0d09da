package secrets

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"

	"golava/server/store"
)

// MaxValueBytes bounds one secret value: secrets are tokens, passwords and
// keys, not files (those belong in the realm's payload area).
const MaxValueBytes = 64 << 10

// wrapVersion prefixes a wrapped realm key, so a later format can be told
// apart from this one (version, 12-byte nonce, sealed key).
const wrapVersion = 1

// Sentinel errors callers act on; errors also wrap store.ErrNotFound.
var (
	// ErrWrongMasterKey: a realm key does not open with the master key given.
	ErrWrongMasterKey = errors.New("the master key does not open this realm's key (wrong master key file?)")
	// ErrCorrupt: a sealed value does not open with its realm's key at its
	// path (altered, or copied from another path).
	ErrCorrupt = errors.New("secret does not decrypt at this path (altered or moved ciphertext)")
)

// Box seals and opens the secrets of every realm with one master key. It
// holds no plaintext between calls and is safe for concurrent use.
type Box struct {
	st     *store.Store
	master cipher.AEAD
}

// New returns a Box using masterKey (KeySize bytes) over st.
func New(st *store.Store, masterKey []byte) (*Box, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Box{st: st, master: aead}, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block) // standard 12-byte nonce
}

// seal returns a random nonce and the ciphertext of plain bound to aad.
func seal(aead cipher.AEAD, plain, aad []byte) (nonce, ct []byte, err error) {
	nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("nonce: %w", err)
	}
	return nonce, aead.Seal(nil, nonce, plain, aad), nil
}

// keyAAD binds a wrapped key to its realm: a wrapped key copied to another
// realm's row does not open.
func keyAAD(realmID int64) []byte {
	return []byte("golava realm key " + strconv.FormatInt(realmID, 10))
}

func wrapKey(master cipher.AEAD, realmID int64, key []byte) ([]byte, error) {
	nonce, ct, err := seal(master, key, keyAAD(realmID))
	if err != nil {
		return nil, err
	}
	out := append([]byte{wrapVersion}, nonce...)
	return append(out, ct...), nil
}

func unwrapKey(master cipher.AEAD, realmID int64, wrapped []byte) ([]byte, error) {
	ns := master.NonceSize()
	if len(wrapped) < 1+ns+master.Overhead() || wrapped[0] != wrapVersion {
		return nil, fmt.Errorf("key of realm %d: unknown format (%d bytes)", realmID, len(wrapped))
	}
	key, err := master.Open(nil, wrapped[1:1+ns], wrapped[1+ns:], keyAAD(realmID))
	if err != nil {
		return nil, fmt.Errorf("key of realm %d: %w", realmID, ErrWrongMasterKey)
	}
	return key, nil
}

// realmKey returns the AEAD of a realm's data key; create makes the key on
// first use (Put), otherwise a realm without one has no secrets.
func (b *Box) realmKey(ctx context.Context, realm string, create bool) (int64, cipher.AEAD, error) {
	id, err := b.st.RealmIDByName(ctx, realm)
	if err != nil {
		return 0, nil, err
	}
	wrapped, err := b.st.RealmKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) && create {
		wrapped, err = b.newRealmKey(ctx, id)
	}
	if err != nil {
		return 0, nil, err
	}
	key, err := unwrapKey(b.master, id, wrapped)
	if err != nil {
		return 0, nil, fmt.Errorf("realm %q: %w", realm, err)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return 0, nil, fmt.Errorf("realm %q key: %w", realm, err)
	}
	return id, aead, nil
}

func (b *Box) newRealmKey(ctx context.Context, realmID int64) ([]byte, error) {
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	wrapped, err := wrapKey(b.master, realmID, key)
	if err != nil {
		return nil, err
	}
	return b.st.AddRealmKey(ctx, realmID, wrapped)
}

// Put stores value at path (a /lava/REALM/NAME string), replacing any
// previous value.
func (b *Box) Put(ctx context.Context, path string, value []byte) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fmt.Errorf("secret %s: value of %d bytes is larger than %d", p, len(value), MaxValueBytes)
	}
	id, aead, err := b.realmKey(ctx, p.Realm, true)
	if err != nil {
		return fmt.Errorf("put secret %s: %w", p, err)
	}
	nonce, ct, err := seal(aead, value, []byte(p.String()))
	if err != nil {
		return fmt.Errorf("put secret %s: %w", p, err)
	}
	return b.st.PutSecret(ctx, id, store.SealedSecret{Name: p.Name, Ciphertext: ct, Nonce: nonce})
}

// Get returns the value at path; errors wrap store.ErrNotFound when there
// is none, ErrWrongMasterKey or ErrCorrupt when it does not decrypt.
func (b *Box) Get(ctx context.Context, path string) ([]byte, error) {
	p, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	id, err := b.st.RealmIDByName(ctx, p.Realm)
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", p, err)
	}
	// Look for the secret first: a missing secret is "not found" even in a
	// realm that has no key yet.
	sec, err := b.st.Secret(ctx, id, p.Name)
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", p, err)
	}
	_, aead, err := b.realmKey(ctx, p.Realm, false)
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", p, err)
	}
	if len(sec.Nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("get secret %s: %w", p, ErrCorrupt)
	}
	plain, err := aead.Open(nil, sec.Nonce, sec.Ciphertext, []byte(p.String()))
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", p, ErrCorrupt)
	}
	return plain, nil
}

// List returns the names of a realm's secrets, sorted; it needs no key.
func (b *Box) List(ctx context.Context, realm string) ([]string, error) {
	if err := ValidRealm(realm); err != nil {
		return nil, err
	}
	id, err := b.st.RealmIDByName(ctx, realm)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return b.st.SecretNames(ctx, id)
}

// Delete removes the secret at path; errors wrap store.ErrNotFound when
// there is none.
func (b *Box) Delete(ctx context.Context, path string) error {
	p, err := ParsePath(path)
	if err != nil {
		return err
	}
	id, err := b.st.RealmIDByName(ctx, p.Realm)
	if err != nil {
		return fmt.Errorf("delete secret %s: %w", p, err)
	}
	if err := b.st.DeleteSecret(ctx, id, p.Name); err != nil {
		return fmt.Errorf("delete secret %s: %w", p, err)
	}
	return nil
}

// RotateMasterKey rewraps every realm's data key from oldKey to newKey in
// one transaction; the secrets themselves are untouched (they are sealed
// with the realm keys, which do not change). If any realm key does not
// open with oldKey nothing changes and the error wraps ErrWrongMasterKey.
// It returns how many realm keys it rewrapped.
func RotateMasterKey(ctx context.Context, st *store.Store, oldKey, newKey []byte) (int, error) {
	oldMaster, err := newAEAD(oldKey)
	if err != nil {
		return 0, fmt.Errorf("old master key: %w", err)
	}
	newMaster, err := newAEAD(newKey)
	if err != nil {
		return 0, fmt.Errorf("new master key: %w", err)
	}
	n, err := st.RewrapRealmKeys(ctx, func(realmID int64, wrapped []byte) ([]byte, error) {
		key, err := unwrapKey(oldMaster, realmID, wrapped)
		if err != nil {
			return nil, err
		}
		return wrapKey(newMaster, realmID, key)
	})
	if err != nil {
		return 0, fmt.Errorf("rotate master key: %w", err)
	}
	return n, nil
}
