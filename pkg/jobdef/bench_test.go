package jobdef

import (
	"fmt"
	"strings"
	"testing"
)

// TestLargeDocumentsStayLinear parses documents of megabytes
// shaped to hurt: one huge mapping, one long list, many actions.
// TestLargeDocumentsStayLinear checks that the parser's work grows linearly
// with the document: doubling a document must not much more than double the
// allocations (quadratic behaviour would quadruple them). Counting
// allocations, not time, keeps the check exact on a loaded machine.
func TestLargeDocumentsStayLinear(t *testing.T) {
	shapes := map[string]func(n int) string{
		"wide": func(n int) string {
			var b strings.Builder
			b.WriteString(minimalJob + "metadata:\n")
			for i := range n {
				fmt.Fprintf(&b, "  k%d: v\n", i)
			}
			return b.String()
		},
		"long": func(n int) string {
			return minimalJob + "tags:\n" + strings.Repeat("- t\n", n)
		},
		"actions": func(n int) string {
			return minimalJob + strings.Repeat("- boot: {method: minimal, timeout: {minutes: 1}}\n", n)
		},
	}
	for name, build := range shapes {
		small, large := build(2000), build(8000)
		if len(large) > MaxDefinitionBytes {
			t.Fatalf("%s: test document too large", name)
		}
		allocs := func(doc string) float64 {
			return testing.AllocsPerRun(2, func() {
				if _, err := Parse([]byte(doc)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
		}
		a, b := allocs(small), allocs(large)
		t.Logf("%s: %.0f -> %.0f allocations", name, a, b)
		// 4x the input: linear gives ~4x the allocations, quadratic ~16x.
		if ratio := b / a; ratio > 6 {
			t.Errorf("%s: 4x the document took %.1fx the allocations (%.0f -> %.0f)", name, ratio, a, b)
		}
	}
}
