package devconf

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// DecodeYAML reads a rendered device configuration into generic values.
// Like PyYAML, which lava-dispatcher uses, a duplicate key keeps its last
// value (several lava-server templates render one); yaml.v3 alone would
// refuse the document.
func DecodeYAML(data []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("device configuration: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("device configuration: not a YAML mapping")
	}
	dedupe(doc.Content[0], map[*yaml.Node]bool{})
	var m map[string]any
	if err := doc.Content[0].Decode(&m); err != nil {
		return nil, fmt.Errorf("device configuration: %w", err)
	}
	return m, nil
}

// dedupe drops all but the last occurrence of each scalar key, in place.
func dedupe(n *yaml.Node, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.MappingNode {
		last := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode {
				last[k.Value] = i
			}
		}
		kept := n.Content[:0:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && last[k.Value] != i {
				continue
			}
			kept = append(kept, k, n.Content[i+1])
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		dedupe(c, seen)
	}
	dedupe(n.Alias, seen)
}
