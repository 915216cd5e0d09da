package jobdef

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLargeDocumentsStayLinear parses documents of megabytes
// shaped to hurt: one huge mapping, one long list, many actions.
func TestLargeDocumentsStayLinear(t *testing.T) {
	t.Parallel()
	var wide, long, actions strings.Builder
	wide.WriteString(minimalJob + "metadata:\n")
	for i := 0; wide.Len() < MaxDefinitionBytes/2; i++ {
		fmt.Fprintf(&wide, "  k%d: v\n", i)
	}
	long.WriteString(minimalJob + "tags:\n")
	for long.Len() < MaxDefinitionBytes/4 {
		long.WriteString("- t\n")
	}
	actions.WriteString(minimalJob)
	for actions.Len() < MaxDefinitionBytes/8 {
		actions.WriteString("- boot: {method: minimal, timeout: {minutes: 1}}\n")
	}
	for name, doc := range map[string]string{"wide": wide.String(), "long": long.String(), "actions": actions.String()} {
		start := time.Now()
		if _, err := Parse([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		// Generous for a loaded 2-core machine; quadratic behaviour takes minutes.
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%s: %v", name, d)
		}
	}
}
