package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golava/server/store"
)

// Refs returns, sorted, the keys of a secrets: block whose values are
// /lava/ paths (other values are literal secrets, passed as written).
func Refs(block map[string]any) []string {
	var keys []string
	for k, v := range block {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "/lava/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// SubmitProblem checks the /lava/ paths of a job's secrets: block at
// submission in realmID: each names that realm and an existing secret.
// haveKey says whether the server holds the master key (without it only
// literal values can be passed). It returns the refusal for the submitter
// ("" when fine), naming secrets.KEY and never a value.
func SubmitProblem(ctx context.Context, st *store.Store, haveKey bool, realmID int64, block map[string]any) (string, error) {
	keys := Refs(block)
	if len(keys) == 0 {
		return "", nil
	}
	if !haveKey {
		return fmt.Sprintf("secrets.%s: %s is a realm secret path, but this server has no master key (lava-server serve --master-key-file); only literal values can be passed",
			keys[0], block[keys[0]]), nil
	}
	realm, err := st.RealmByID(ctx, realmID)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		p, err := ParsePath(block[k].(string))
		if err != nil {
			return fmt.Sprintf("secrets.%s: %v", k, err), nil
		}
		if p.Realm != realm.Name {
			return fmt.Sprintf("secrets.%s: %s belongs to realm %q, the job is submitted in realm %q", k, p, p.Realm, realm.Name), nil
		}
		_, err = st.SecretInfo(ctx, realm.ID, p.Name)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Sprintf("secrets.%s: no secret %s (lava-server secrets set, or POST /api/v0.2/realms/%s/secrets/)", k, p, realm.Name), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", nil
}
