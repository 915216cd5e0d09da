package artifacts_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"golava/server/artifacts"
	"golava/server/artifacts/artifactstest"
	"golava/server/store"
	"golava/server/store/storetest"
)

// lifecycle is the acceptance test of expiry: expired temp artifacts leave
// the store and the backend, live ones and payloads (0 days) stay.
func lifecycle(t *testing.T, b artifacts.Backend) {
	ctx := context.Background()
	st := storetest.New(t)
	svc := artifacts.NewService(st, b, nil, 0)
	put := func(area, path, body string) *store.Artifact {
		t.Helper()
		a, err := svc.Put(ctx, artifacts.Upload{RealmID: store.DefaultRealm, Realm: "default", Area: area, Path: path,
			Size: int64(len(body)), SHA256: digest([]byte(body))}, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatalf("Put %s/%s: %v", area, path, err)
		}
		return a
	}
	old := put(store.AreaTemp, "job1/out.log", "old output")
	put(store.AreaTemp, "job2/out.log", "live output")
	put(store.AreaPayload, "kernel/Image", "payload")
	// Another realm's expired artifact is its own leader's business.
	other, err := st.CreateRealm(ctx, "other", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Put(ctx, artifacts.Upload{RealmID: other.ID, Realm: "other", Area: store.AreaTemp, Path: "job1/out.log", Size: -1},
		bytes.NewReader([]byte("other realm"))); err != nil {
		t.Fatal(err)
	}
	// job1's outputs were uploaded 8 days ago (7-day lifecycle).
	if _, err := st.Pool().Exec(ctx, `UPDATE artifacts SET created_at = now() - interval '8 days',
		expires_at = now() - interval '1 day' WHERE path = $1`, old.Path); err != nil {
		t.Fatal(err)
	}
	n, err := svc.Expire(ctx, store.DefaultRealm, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("Expire = %d, %v; want 1", n, err)
	}
	if _, err := svc.Get(ctx, store.DefaultRealm, store.AreaTemp, "job1/out.log"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired row still there: %v", err)
	}
	if _, _, err := b.Open(ctx, "default/temp/job1/out.log"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("expired object still there: %v", err)
	}
	for _, k := range []struct{ area, path, body string }{
		{store.AreaTemp, "job2/out.log", "live output"},
		{store.AreaPayload, "kernel/Image", "payload"},
	} {
		a, rc, err := svc.Open(ctx, store.DefaultRealm, k.area, k.path)
		if err != nil {
			t.Fatalf("live %s/%s: %v", k.area, k.path, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != k.body || a.SHA256 != digest(got) {
			t.Fatalf("live %s/%s = %q (%s)", k.area, k.path, got, a.SHA256)
		}
	}
	if n, err := svc.Expire(ctx, store.DefaultRealm, time.Now()); err != nil || n != 0 {
		t.Fatalf("second Expire = %d, %v", n, err)
	}
	if _, _, err := svc.Open(ctx, other.ID, store.AreaTemp, "job1/out.log"); err != nil {
		t.Fatalf("the other realm's artifact went with the default realm's expiry: %v", err)
	}
	if n, err := svc.Expire(ctx, other.ID, time.Now()); err != nil || n != 1 {
		t.Fatalf("Expire of the other realm = %d, %v", n, err)
	}
	if _, err := b.Stat(ctx, "other/temp/job1/out.log"); !errors.Is(err, artifacts.ErrNotFound) {
		t.Fatalf("the other realm's expired object: %v", err)
	}
	// Ten days on, every temp artifact has expired, the payload has not.
	if n, err := svc.Expire(ctx, 0, time.Now().Add(10*24*time.Hour)); err != nil || n != 1 {
		t.Fatalf("Expire in 10 days = %d, %v; want 1", n, err)
	}
	list, total, err := svc.List(ctx, store.DefaultRealm, store.AreaPayload, "", 0, 10)
	if err != nil || total != 1 || list[0].Path != "kernel/Image" {
		t.Fatalf("payload after expiry = %+v (%d), %v", list, total, err)
	}
	if keys, err := b.List(ctx, "default/"); err != nil || len(keys) != 1 || keys[0] != "default/payload/kernel/Image" {
		t.Fatalf("backend after expiry = %q, %v", keys, err)
	}
}

func TestLifecycleFS(t *testing.T) {
	t.Parallel()
	b, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lifecycle(t, b)
}

func TestLifecycleS3(t *testing.T) {
	t.Parallel()
	gw := artifactstest.Start(t)
	cfg := artifacts.Config{S3: gw.URL("lifecycle")}
	b, err := cfg.Backend(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	lifecycle(t, b)
}

func TestServiceRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	b, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := artifacts.NewService(st, b, nil, 10)
	up := artifacts.Upload{RealmID: store.DefaultRealm, Realm: "default", Area: store.AreaPayload, Path: "a", Size: -1}
	if _, err := svc.Put(ctx, up, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	big := up
	big.Size = 11
	if _, err := svc.Put(ctx, big, bytes.NewReader(make([]byte, 11))); !errors.Is(err, artifacts.ErrSize) {
		t.Fatalf("over the limit: %v", err)
	}
	bad := up
	bad.SHA256 = digest([]byte("x"))
	if _, err := svc.Put(ctx, bad, bytes.NewReader([]byte("abc"))); !errors.Is(err, artifacts.ErrChecksum) {
		t.Fatalf("wrong checksum: %v", err)
	}
	a, err := svc.Get(ctx, store.DefaultRealm, store.AreaPayload, "a")
	if err != nil || a.SHA256 != digest([]byte("abc")) {
		t.Fatalf("a refused upload changed the artifact: %+v, %v", a, err)
	}
	for _, u := range []artifacts.Upload{
		{RealmID: 1, Realm: "default", Area: "other", Path: "a"},
		{RealmID: 1, Realm: "default", Area: store.AreaTemp, Path: "../a"},
		{RealmID: 1, Realm: "../x", Area: store.AreaTemp, Path: "a"},
	} {
		if _, err := svc.Put(ctx, u, bytes.NewReader(nil)); !errors.Is(err, artifacts.ErrInvalidPath) {
			t.Errorf("Put(%+v): %v, want ErrInvalidPath", u, err)
		}
	}
	// An unknown realm: the object must not stay behind its missing row.
	ghost := artifacts.Upload{RealmID: 999, Realm: "ghost", Area: store.AreaTemp, Path: "x", Size: 1}
	if _, err := svc.Put(ctx, ghost, bytes.NewReader([]byte("x"))); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown realm: %v", err)
	}
	if keys, _ := b.List(ctx, "ghost/"); len(keys) != 0 {
		t.Fatalf("object of a refused row left: %q", keys)
	}
	if err := svc.Delete(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Open(ctx, store.DefaultRealm, store.AreaPayload, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted artifact: %v", err)
	}
}

// Concurrent uploads of one path leave a row that describes the stored
// bytes, whichever upload won.
func TestServiceConcurrentSamePath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.New(t)
	b, err := artifacts.NewFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc := artifacts.NewService(st, b, nil, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte{byte('a' + i)}, 1000*(i+1))
			_, err := svc.Put(ctx, artifacts.Upload{RealmID: store.DefaultRealm, Realm: "default", Area: store.AreaPayload,
				Path: "same", Size: int64(len(body)), SHA256: digest(body)}, bytes.NewReader(body))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	a, rc, err := svc.Open(ctx, store.DefaultRealm, store.AreaPayload, "same")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if digest(got) != a.SHA256 || int64(len(got)) != a.Size {
		t.Fatalf("row %s/%d does not describe the stored %d bytes", a.SHA256, a.Size, len(got))
	}
}
