package artifacts

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golava/server/store"
)

// MaxPathLen bounds an artifact path in bytes (the migration's CHECK too).
const MaxPathLen = 1024

// MaxSegmentLen is the longest name between slashes: what filesystems
// allow (NAME_MAX), so a path fits every backend.
const MaxSegmentLen = 255

// tmpPrefix marks the FS backend's files being written; paths may not use
// it, so an upload in progress is never a listed artifact.
const tmpPrefix = ".golava-upload-"

// ErrInvalidPath wraps every path, area or realm refusal.
var ErrInvalidPath = errors.New("invalid artifact path")

// ValidArea refuses anything but payload and temp.
func ValidArea(area string) error {
	if area != store.AreaPayload && area != store.AreaTemp {
		return fmt.Errorf("%w: area %q: use %q or %q", ErrInvalidPath, area, store.AreaPayload, store.AreaTemp)
	}
	return nil
}

// ValidPath checks a path inside an area: relative, '/'-separated, no empty,
// "." or ".." segment, printable UTF-8, at most MaxPathLen bytes. The error
// names the path and what is wrong with it.
func ValidPath(p string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidPath, p, why) }
	switch {
	case p == "":
		return bad("empty")
	case len(p) > MaxPathLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidPath, len(p), MaxPathLen)
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("must be relative (no leading '/')")
	case strings.HasSuffix(p, "/"):
		return bad("ends with '/' (names a folder, not a file)")
	}
	for i, r := range p {
		if r == '\\' {
			return bad(fmt.Sprintf("backslash at byte %d", i))
		}
		if !unicode.IsPrint(r) {
			return bad(fmt.Sprintf("unprintable character %U at byte %d", r, i))
		}
	}
	for i, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return bad(fmt.Sprintf("empty segment %d ('//')", i+1))
		case seg == "." || seg == "..":
			return bad(fmt.Sprintf("segment %d is %q", i+1, seg))
		case len(seg) > MaxSegmentLen:
			return bad(fmt.Sprintf("segment %d is %d bytes, more than %d", i+1, len(seg), MaxSegmentLen))
		case strings.HasPrefix(seg, tmpPrefix):
			return bad(fmt.Sprintf("segment %d starts with the reserved %q", i+1, tmpPrefix))
		}
	}
	return nil
}

// ValidPrefix checks a listing prefix: empty, or a path that may end in '/'.
func ValidPrefix(p string) error {
	if p == "" {
		return nil
	}
	return ValidPath(strings.TrimSuffix(p, "/"))
}

// Key is the storage key of an artifact: REALM/AREA/PATH.
func Key(realm, area, path string) (string, error) {
	if err := validRealm(realm); err != nil {
		return "", err
	}
	if err := ValidArea(area); err != nil {
		return "", err
	}
	if err := ValidPath(path); err != nil {
		return "", err
	}
	return realm + "/" + area + "/" + path, nil
}

func validRealm(realm string) error {
	if realm == "" || strings.ContainsAny(realm, "/\\") || realm == "." || realm == ".." {
		return fmt.Errorf("%w: realm name %q cannot prefix a storage key", ErrInvalidPath, realm)
	}
	return nil
}

// validKey is the backends' own guard: a key is at least REALM/AREA/PATH
// made of valid segments, so no key can leave the backend's root.
func validKey(key string) error {
	realm, rest, ok := strings.Cut(key, "/")
	if !ok {
		return fmt.Errorf("%w: key %q is not REALM/AREA/PATH", ErrInvalidPath, key)
	}
	if err := validRealm(realm); err != nil {
		return err
	}
	return ValidPath(rest)
}

// validKeyPrefix is validKey for List prefixes, which may end in '/'.
func validKeyPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidPath(strings.TrimSuffix(prefix, "/"))
}
