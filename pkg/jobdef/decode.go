package jobdef

import "fmt"

// DecodeYAML11 reads any YAML document the way PyYAML's safe loader does
// (YAML 1.1 scalars, last duplicate key wins, merge keys, bounded alias
// expansion and depth), for the other YAML LAVA reads with PyYAML: test
// definitions, device configurations. Mappings become map[string]any
// (non-string keys are written as Python would print them), sequences
// []any; scalars string, int (*big.Int when it does not fit), float64,
// bool, time.Time, []byte or nil.
func DecodeYAML11(data []byte) (any, error) {
	if len(data) > MaxDefinitionBytes {
		return nil, fmt.Errorf("YAML document is %d bytes, larger than %d", len(data), MaxDefinitionBytes)
	}
	v, _, err := loadYAML11(data)
	if err != nil {
		se := err.(*syntaxError)
		return nil, Error{Line: se.line, Column: se.column, Message: se.msg}
	}
	return v.goValue(), nil
}
