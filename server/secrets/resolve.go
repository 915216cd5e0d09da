package secrets

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Mask replaces a secret value wherever it would be shown.
const Mask = "[secret]"

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

// Masker hides secret values in text (log lines, results, events).
type Masker struct{ r *strings.Replacer }

// NewMasker masks every non-empty value, also inside other words (a short
// secret hides more than itself: better than showing it). Longer values
// are matched first, so a secret that contains another is hidden whole.
func NewMasker(values []string) *Masker {
	vals := make([]string, 0, len(values))
	for _, v := range values {
		if v != "" {
			vals = append(vals, v)
		}
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	pairs := make([]string, 0, 2*len(vals))
	for _, v := range vals {
		pairs = append(pairs, v, Mask)
	}
	return &Masker{r: strings.NewReplacer(pairs...)}
}

// Apply returns s with every secret value replaced by Mask.
func (m *Masker) Apply(s string) string {
	if m == nil {
		return s
	}
	return m.r.Replace(s)
}
