package secrets

import (
	"context"
	"fmt"
	"strings"

	"golava/pkg/mask"
)

// Mask replaces a secret value wherever it would be shown.
const Mask = mask.Text

// Resolve turns a job's secrets: block into the values lava-run gets: a
// value that is a path /lava/REALM/NAME is read from the box, any other
// value is kept as written (LAVA jobs carry literal secrets). A path of
// another realm than the job's is refused, so a job cannot read what its
// realm does not own. Errors name the block key and never a value.
func (b *Box) Resolve(ctx context.Context, jobRealm string, block map[string]any) (map[string]string, error) {
	out := make(map[string]string, len(block))
	for k, v := range block {
		s, ok := v.(string)
		if !ok {
			out[k] = fmt.Sprint(v)
			continue
		}
		if !strings.HasPrefix(s, "/lava/") {
			out[k] = s
			continue
		}
		p, err := ParsePath(s)
		if err != nil {
			return nil, fmt.Errorf("secrets.%s: %w", k, err)
		}
		if p.Realm != jobRealm {
			return nil, fmt.Errorf("secrets.%s: %s belongs to realm %q, the job runs in realm %q", k, p, p.Realm, jobRealm)
		}
		val, err := b.Get(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("secrets.%s: %w", k, err)
		}
		out[k] = string(val)
	}
	return out, nil
}

// Masker hides secret values in text (log lines, results, events); the
// worker side uses the same code from pkg/mask.
type Masker = mask.Masker

// NewMasker masks every non-empty value (see mask.New); nil when none.
func NewMasker(values []string) *Masker { return mask.New(values) }
