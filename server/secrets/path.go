package secrets

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits on names; a realm name follows the realms table's CHECK.
const (
	MaxRealmLen = 64
	MaxNameLen  = 128
)

var (
	realmRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// Secret names are used as keys in a job's secrets: block and as
	// environment-like names on the worker, so no slashes or spaces.
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Path names one secret: /lava/REALM/NAME.
type Path struct {
	Realm string
	Name  string
}

// String is the canonical form, also the additional authenticated data of
// the sealed value, so a ciphertext only opens at the path it was sealed for.
func (p Path) String() string { return "/lava/" + p.Realm + "/" + p.Name }

// ParsePath checks s is /lava/REALM/NAME and returns its parts; the error
// says which part is wrong and why.
func ParsePath(s string) (Path, error) {
	const prefix = "/lava/"
	if !strings.HasPrefix(s, prefix) {
		return Path{}, fmt.Errorf("secret path %q: must start with %q (form /lava/REALM/NAME)", s, prefix)
	}
	parts := strings.Split(strings.TrimPrefix(s, prefix), "/")
	if len(parts) != 2 {
		return Path{}, fmt.Errorf("secret path %q: want exactly two parts after /lava/ (REALM/NAME), got %d", s, len(parts))
	}
	p := Path{Realm: parts[0], Name: parts[1]}
	if err := ValidRealm(p.Realm); err != nil {
		return Path{}, fmt.Errorf("secret path %q: %w", s, err)
	}
	if err := ValidName(p.Name); err != nil {
		return Path{}, fmt.Errorf("secret path %q: %w", s, err)
	}
	return p, nil
}

// ValidRealm checks a realm name.
func ValidRealm(realm string) error {
	switch {
	case realm == "":
		return fmt.Errorf("realm is empty")
	case len(realm) > MaxRealmLen:
		return fmt.Errorf("realm %q: longer than %d characters", realm, MaxRealmLen)
	case !realmRE.MatchString(realm):
		return fmt.Errorf("realm %q: use lower-case letters, digits, '_' and '-', starting with a letter or digit", realm)
	}
	return nil
}

// ValidName checks a secret name.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("secret name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("secret name %q: longer than %d characters", name, MaxNameLen)
	case !nameRE.MatchString(name):
		return fmt.Errorf("secret name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	return nil
}
