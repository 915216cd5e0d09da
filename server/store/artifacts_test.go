package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golava/server/store"
)

func sha(c string) string { return strings.Repeat(c, 64) }

func TestArtifactsStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := lab(t)
	if _, err := st.Pool().Exec(ctx, `INSERT INTO realms (name, payload_days, temp_days) VALUES ('other', 3, 0)`); err != nil {
		t.Fatal(err)
	}
	other, err := st.RealmIDByName(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	job := insertJob(t, st, "qemu-01", store.JobRunning, "tok", nil)
	put := func(realm int64, area, path, sum string, job *int64) *store.Artifact {
		t.Helper()
		a, err := st.PutArtifact(ctx, store.Artifact{RealmID: realm, Area: area, Path: path, Size: 5, SHA256: sum, JobID: job})
		if err != nil {
			t.Fatalf("PutArtifact(%d %s %s): %v", realm, area, path, err)
		}
		return a
	}
	// Expiry from the realm's days: default realm payload 0 (never), temp 7.
	p := put(store.DefaultRealm, store.AreaPayload, "a/b.bin", sha("a"), nil)
	if p.ExpiresAt != nil || p.Realm != "default" || p.JobID != nil {
		t.Fatalf("default payload = %+v, want no expiry", p)
	}
	tmp := put(store.DefaultRealm, store.AreaTemp, "a/out.txt", sha("b"), &job)
	if tmp.ExpiresAt == nil || tmp.ExpiresAt.Sub(tmp.CreatedAt) != 7*24*time.Hour || *tmp.JobID != job {
		t.Fatalf("default temp = %+v, want expiry after 7 days and job %d", tmp, job)
	}
	o := put(other, store.AreaPayload, "a/b.bin", sha("c"), nil)
	if o.ExpiresAt == nil || o.ExpiresAt.Sub(o.CreatedAt) != 3*24*time.Hour || o.Realm != "other" {
		t.Fatalf("other payload = %+v, want expiry after 3 days", o)
	}
	if o := put(other, store.AreaTemp, "x", sha("d"), nil); o.ExpiresAt != nil {
		t.Fatalf("other temp (0 days) expires: %+v", o)
	}
	// Replace keeps one row per path.
	p2 := put(store.DefaultRealm, store.AreaPayload, "a/b.bin", sha("e"), nil)
	if p2.ID != p.ID || p2.SHA256 != sha("e") {
		t.Fatalf("replace = %+v (was %+v)", p2, p)
	}
	got, err := st.Artifact(ctx, store.DefaultRealm, store.AreaPayload, "a/b.bin")
	if err != nil || got.SHA256 != sha("e") {
		t.Fatalf("Artifact = %+v, %v", got, err)
	}
	if _, err := st.Artifact(ctx, other, store.AreaTemp, "a/out.txt"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another realm's artifact: %v", err)
	}
	if _, err := st.PutArtifact(ctx, store.Artifact{RealmID: 999, Area: store.AreaTemp, Path: "x", SHA256: sha("a")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown realm: %v", err)
	}
	if _, err := st.PutArtifact(ctx, store.Artifact{RealmID: 1, Area: "nope", Path: "x", SHA256: sha("a")}); err == nil {
		t.Fatal("an unknown area was stored")
	}
	if _, err := st.PutArtifact(ctx, store.Artifact{RealmID: 1, Area: store.AreaTemp, Path: "x", SHA256: "XYZ"}); err == nil {
		t.Fatal("a malformed checksum was stored")
	}

	// Listing: prefix with LIKE metacharacters matches literally.
	for _, path := range []string{"a/c", "a%/d", "a_/e", "b/f"} {
		put(store.DefaultRealm, store.AreaPayload, path, sha("f"), nil)
	}
	paths := func(prefix string, offset, limit int) (string, int64) {
		t.Helper()
		list, n, err := st.ListArtifacts(ctx, store.DefaultRealm, store.AreaPayload, prefix, offset, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ps []string
		for _, a := range list {
			ps = append(ps, a.Path)
		}
		return strings.Join(ps, " "), n
	}
	if got, n := paths("", 0, 10); got != "a%/d a/b.bin a/c a_/e b/f" || n != 5 {
		t.Fatalf("list all = %q (%d)", got, n)
	}
	if got, n := paths("a/", 0, 10); got != "a/b.bin a/c" || n != 2 {
		t.Fatalf("list a/ = %q (%d)", got, n)
	}
	if got, n := paths("a%", 0, 10); got != "a%/d" || n != 1 {
		t.Fatalf("list a%% = %q (%d)", got, n)
	}
	if got, n := paths("a_", 0, 10); got != "a_/e" || n != 1 {
		t.Fatalf("list a_ = %q (%d)", got, n)
	}
	if got, n := paths("", 1, 2); got != "a/b.bin a/c" || n != 5 {
		t.Fatalf("page 2 = %q (%d)", got, n)
	}

	// Delete guarded by checksum.
	if err := st.DeleteArtifact(ctx, store.DefaultRealm, store.AreaPayload, "b/f", sha("0")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete with a stale checksum: %v", err)
	}
	if err := st.DeleteArtifact(ctx, store.DefaultRealm, store.AreaPayload, "b/f", sha("f")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteArtifact(ctx, store.DefaultRealm, store.AreaPayload, "b/f", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	// Expiry: only rows whose time has passed, oldest first.
	now := time.Now()
	exp, err := st.ExpiredArtifacts(ctx, 0, now, 10)
	if err != nil || len(exp) != 0 {
		t.Fatalf("expired now = %+v, %v", exp, err)
	}
	exp, err = st.ExpiredArtifacts(ctx, 0, now.Add(5*24*time.Hour), 10)
	if err != nil || len(exp) != 1 || exp[0].Realm != "other" {
		t.Fatalf("expired in 5 days = %+v, %v", exp, err)
	}
	if exp, err := st.ExpiredArtifacts(ctx, store.DefaultRealm, now.Add(5*24*time.Hour), 10); err != nil || len(exp) != 0 {
		t.Fatalf("expired in 5 days in the default realm = %+v, %v", exp, err)
	}
	exp, err = st.ExpiredArtifacts(ctx, 0, now.Add(8*24*time.Hour), 1)
	if err != nil || len(exp) != 1 || exp[0].Realm != "other" {
		t.Fatalf("first expired in 8 days = %+v, %v", exp, err)
	}
	if gone, err := st.DeleteExpiredArtifact(ctx, exp[0].ID, sha("0"), now.Add(8*24*time.Hour)); err != nil || gone {
		t.Fatalf("delete expired with a stale checksum = %v, %v", gone, err)
	}
	if gone, err := st.DeleteExpiredArtifact(ctx, exp[0].ID, exp[0].SHA256, now); err != nil || gone {
		t.Fatalf("delete not yet expired = %v, %v", gone, err)
	}
	if gone, err := st.DeleteExpiredArtifact(ctx, exp[0].ID, exp[0].SHA256, now.Add(8*24*time.Hour)); err != nil || !gone {
		t.Fatalf("delete expired = %v, %v", gone, err)
	}

	// A deleted job leaves its artifacts, without the job.
	if _, err := st.Pool().Exec(ctx, `DELETE FROM jobs WHERE id = $1`, job); err != nil {
		t.Fatal(err)
	}
	if a, err := st.Artifact(ctx, store.DefaultRealm, store.AreaTemp, "a/out.txt"); err != nil || a.JobID != nil {
		t.Fatalf("artifact of a deleted job = %+v, %v", a, err)
	}
}
