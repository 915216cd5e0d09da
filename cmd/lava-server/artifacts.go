package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golava/server/artifacts"
	"golava/server/store"
)

const artifactsUsage = "put PATH FILE|- | get PATH [FILE|-] | ls [PREFIX] | rm PATH  (--realm R --area payload|temp)"

// cmdArtifacts is `artifacts put|get|ls|rm`, straight on the database and
// the storage (the same --artifacts-* flags as serve), for admins and
// scripts on the server host.
func cmdArtifacts(ctx context.Context, args []string, cio cmdIO) int {
	return artifactsCommand(ctx, args, cio, os.Stdin)
}

func artifactsCommand(ctx context.Context, args []string, cio cmdIO, stdin io.Reader) int {
	f := newFlags("artifacts", artifactsUsage, cio)
	realmName := f.String("realm", "default", "the realm")
	area := f.String("area", store.AreaPayload, "payload or temp")
	var artCfg artifacts.Config
	artCfg.Flags(f.FlagSet, "")
	pos, code, ok := f.parse(args, 1, 3)
	if !ok {
		return code
	}
	verb := pos[0]
	counts := map[string][2]int{"put": {3, 3}, "get": {2, 3}, "ls": {1, 2}, "rm": {2, 2}}
	n, known := counts[verb]
	if !known {
		fmt.Fprintf(cio.stderr, "lava-server artifacts: unknown action %q: use put, get, ls or rm\n", verb)
		f.Usage()
		return 2
	}
	if len(pos) < n[0] || len(pos) > n[1] {
		fmt.Fprintf(cio.stderr, "lava-server artifacts %s: wrong arguments; usage: %s\n", verb, artifactsUsage)
		return 2
	}
	if err := artifacts.ValidArea(*area); err != nil {
		return fail(cio, "artifacts "+verb, fmt.Errorf("--area: %w", err))
	}
	return withStore(ctx, f, cio, "artifacts "+verb, func(st *store.Store) error {
		b, err := artCfg.Backend(ctx)
		if err != nil {
			return err
		}
		if b == nil {
			return errors.New("no artifact storage: give --artifacts-dir or --artifacts-s3 (env LAVA_ARTIFACTS_DIR, LAVA_ARTIFACTS_S3), as for serve")
		}
		realm, err := st.RealmByName(ctx, *realmName)
		if err != nil {
			return err
		}
		svc := artifacts.NewService(st, b, nil, artCfg.MaxSize)
		switch verb {
		case "put":
			return artifactPut(ctx, svc, realm, *area, pos[1], pos[2], stdin, cio)
		case "get":
			dst := "-"
			if len(pos) == 3 {
				dst = pos[2]
			}
			return artifactGet(ctx, svc, realm, *area, pos[1], dst, cio)
		case "ls":
			prefix := ""
			if len(pos) == 2 {
				prefix = pos[1]
			}
			return artifactList(ctx, svc, realm, *area, prefix, cio)
		default: // rm
			a, err := svc.Get(ctx, realm.ID, *area, pos[1])
			if err != nil {
				return err
			}
			return svc.Delete(ctx, a)
		}
	})
}

// artifactPut uploads a file (checksummed first, so the store verifies
// the bytes it receives) or stdin.
func artifactPut(ctx context.Context, svc *artifacts.Service, realm *store.Realm, area, path, src string, stdin io.Reader, cio cmdIO) error {
	up := artifacts.Upload{RealmID: realm.ID, Realm: realm.Name, Area: area, Path: path, Size: -1}
	if err := artifacts.ValidPath(path); err != nil {
		return err // before reading anything
	}
	body := stdin
	if src != "-" {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		size, err := io.Copy(h, f)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		up.Size, up.SHA256, body = size, hex.EncodeToString(h.Sum(nil)), f
	}
	a, err := svc.Put(ctx, up, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(cio.stdout, "%s/%s/%s %d %s\n", realm.Name, area, a.Path, a.Size, a.SHA256)
	return nil
}

// artifactGet writes the artifact to dst ("-": stdout), checking its
// checksum; a file appears only once complete and verified.
func artifactGet(ctx context.Context, svc *artifacts.Service, realm *store.Realm, area, path, dst string, cio cmdIO) error {
	a, rc, err := svc.Open(ctx, realm.ID, area, path)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	if dst == "-" {
		if _, err := io.Copy(io.MultiWriter(cio.stdout, h), rc); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
			return fmt.Errorf("%s/%s: %w: read %s, recorded %s", area, path, artifacts.ErrChecksum, got, a.SHA256)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename: nothing to remove
	if _, err := io.Copy(io.MultiWriter(tmp, h), rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != a.SHA256 {
		return fmt.Errorf("%s/%s: %w: read %s, recorded %s", area, path, artifacts.ErrChecksum, got, a.SHA256)
	}
	return os.Rename(tmp.Name(), dst)
}

func artifactList(ctx context.Context, svc *artifacts.Service, realm *store.Realm, area, prefix string, cio cmdIO) error {
	const page = 500
	for offset := 0; ; offset += page {
		list, total, err := svc.List(ctx, realm.ID, area, prefix, offset, page)
		if err != nil {
			return err
		}
		for _, a := range list {
			expires := "never"
			if a.ExpiresAt != nil {
				expires = a.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			job := "-"
			if a.JobID != nil {
				job = fmt.Sprint(*a.JobID)
			}
			fmt.Fprintf(cio.stdout, "%s\t%d\t%s\tjob %s\texpires %s\n", a.Path, a.Size, a.SHA256, job, expires)
		}
		if int64(offset+page) >= total || len(list) == 0 {
			return nil
		}
	}
}
