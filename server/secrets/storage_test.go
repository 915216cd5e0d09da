package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"golava/server/secrets"
	"golava/server/store"
)

// occurrences counts the columns of every table (text-like and bytea) that
// contain needle, and names them.
func occurrences(t *testing.T, st *store.Store, needle string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Pool().Query(ctx, `
		SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public'
		  AND data_type IN ('text', 'character varying', 'character', 'bytea', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')
		ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		err := r.Scan(&c.table, &c.column, &c.typ)
		return c, err
	})
	if err != nil || len(cols) < 20 {
		t.Fatalf("columns to scan: %d, %v", len(cols), err)
	}
	var found []string
	for _, c := range cols {
		ident := pgx.Identifier{c.table}.Sanitize() + "." + pgx.Identifier{c.column}.Sanitize()
		cond, arg := fmt.Sprintf("strpos(%s::text, $1) > 0", ident), any(needle)
		if c.typ == "bytea" {
			cond, arg = fmt.Sprintf("position($1::bytea in %s) > 0", ident), []byte(needle)
		}
		q := fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", pgx.Identifier{c.table}.Sanitize(), cond)
		var n int
		if err := st.Pool().QueryRow(ctx, q, arg).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			found = append(found, c.table+"."+c.column)
		}
	}
	return found
}

// Issue 10, acceptance 3 (storage part): a stored secret appears nowhere in
// clear in the database.
func TestPlaintextNowhereInDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, box, _ := setup(t)
	const plain = "s3cr3t-Plaintext-7d1f"
	mustPut(t, box, "/lava/default/TOKEN", plain)
	mustPut(t, box, "/lava/lab-b/TOKEN", plain)
	mustPut(t, box, "/lava/lab-b/OTHER", plain+"-suffix")
	if found := occurrences(t, st, plain); len(found) != 0 {
		t.Fatalf("plaintext found in %v", found)
	}
	// The scan must be able to fail: the same text in a text column and in
	// a bytea column is found.
	if _, err := st.Pool().Exec(ctx, `UPDATE realms SET description = $1 WHERE name = 'lab-b'`, "x"+plain); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE secrets SET ciphertext = $1 WHERE name = 'OTHER'`, []byte("y"+plain+"z")); err != nil {
		t.Fatal(err)
	}
	if found := strings.Join(occurrences(t, st, plain), ","); found != "realms.description,secrets.ciphertext" {
		t.Fatalf("planted plaintext found in %q, want realms.description,secrets.ciphertext", found)
	}
	wantValue(t, box, "/lava/default/TOKEN", plain)
}

// copyRow overwrites the sealed value of (toRealm, toName) with the one of
// (fromRealm, fromName), as an attacker with database access could.
func copyRow(t *testing.T, st *store.Store, fromRealm, fromName, toRealm, toName string) {
	t.Helper()
	_, err := st.Pool().Exec(context.Background(), `
		UPDATE secrets d SET ciphertext = s.ciphertext, nonce = s.nonce
		FROM secrets s
		WHERE s.realm_id = (SELECT id FROM realms WHERE name = $1) AND s.name = $2
		  AND d.realm_id = (SELECT id FROM realms WHERE name = $3) AND d.name = $4`,
		fromRealm, fromName, toRealm, toName)
	if err != nil {
		t.Fatal(err)
	}
}

func TestMovedCiphertextFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, box, _ := setup(t)
	mustPut(t, box, "/lava/default/A", "value-a")
	mustPut(t, box, "/lava/default/B", "value-b")
	mustPut(t, box, "/lava/lab-b/A", "value-b-a")
	copyRow(t, st, "default", "A", "default", "B") // same realm, other name
	copyRow(t, st, "default", "A", "lab-b", "A")   // same name, other realm
	for _, path := range []string{"/lava/default/B", "/lava/lab-b/A"} {
		_, err := box.Get(ctx, path)
		if !errors.Is(err, secrets.ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("get %s after copying /lava/default/A there: error = %v, want ErrCorrupt naming the path", path, err)
		}
	}
	wantValue(t, box, "/lava/default/A", "value-a")

	// A realm key copied to another realm does not open there either.
	if _, err := st.Pool().Exec(ctx, `
		UPDATE realm_keys SET wrapped_key = (SELECT wrapped_key FROM realm_keys WHERE realm_id = 1)
		WHERE realm_id = (SELECT id FROM realms WHERE name = 'lab-b')`); err != nil {
		t.Fatal(err)
	}
	if _, err := box.Get(ctx, "/lava/lab-b/A"); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Errorf("realm key moved to lab-b: error = %v, want ErrWrongMasterKey", err)
	}
}

func TestWrongMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, box, _ := setup(t)
	mustPut(t, box, "/lava/default/A", "value-a")
	other, err := secrets.New(st, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Get(ctx, "/lava/default/A")
	if !errors.Is(err, secrets.ErrWrongMasterKey) || !strings.Contains(err.Error(), "wrong master key file") {
		t.Fatalf("get with another master key: error = %v, want ErrWrongMasterKey", err)
	}
	// Nor can it add to a realm it cannot open.
	if err := other.Put(ctx, "/lava/default/B", []byte("v")); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Fatalf("put with another master key: error = %v", err)
	}
	wantValue(t, box, "/lava/default/A", "value-a")
}

func TestRotateMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, box, oldKey := setup(t)
	mustPut(t, box, "/lava/default/A", "value-a")
	mustPut(t, box, "/lava/lab-b/B", "value-b")
	newKey1 := newKey(t)

	// A wrong old key changes nothing.
	if _, err := secrets.RotateMasterKey(ctx, st, newKey1, newKey(t)); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Fatalf("rotate from a wrong key: error = %v, want ErrWrongMasterKey", err)
	}
	wantValue(t, box, "/lava/lab-b/B", "value-b")

	n, err := secrets.RotateMasterKey(ctx, st, oldKey, newKey1)
	if err != nil || n != 2 {
		t.Fatalf("rotate = %d, %v; want 2 realm keys", n, err)
	}
	rotated, err := secrets.New(st, newKey1)
	if err != nil {
		t.Fatal(err)
	}
	wantValue(t, rotated, "/lava/default/A", "value-a")
	wantValue(t, rotated, "/lava/lab-b/B", "value-b")
	if _, err := box.Get(ctx, "/lava/default/A"); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Fatalf("old master key after rotation: error = %v, want ErrWrongMasterKey", err)
	}
	if _, err := secrets.RotateMasterKey(ctx, st, []byte("short"), newKey1); err == nil {
		t.Fatal("rotate with a 5-byte old key: no error")
	}
}
