package jobdef

import (
	"encoding/json"
	"testing"
)

func TestSchemaJSON(t *testing.T) {
	t.Parallel()
	data, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", s["$schema"])
	}
	props := s["properties"].(map[string]any)
	for _, k := range []string{"job_name", "timeouts", "visibility", "actions", "context", "protocols", "notify"} {
		if props[k] == nil {
			t.Errorf("no property %s", k)
		}
	}
	ctx := props["context"].(map[string]any)
	names := ctx["propertyNames"].(map[string]any)["enum"].([]any)
	if len(names) != len(ContextVariables) {
		t.Errorf("context names %d, want %d", len(names), len(ContextVariables))
	}
	// Every boot method and deploy target is described.
	items := props["actions"].(map[string]any)["items"].(map[string]any)["oneOf"].([]any)
	if len(items) != 4 {
		t.Fatalf("action kinds = %d", len(items))
	}
	byKind := map[string]int{}
	for _, it := range items {
		for kind, body := range it.(map[string]any)["properties"].(map[string]any) {
			if alts, ok := body.(map[string]any)["anyOf"].([]any); ok {
				byKind[kind] = len(alts)
			}
		}
	}
	if byKind["boot"] != len(BootMethods()) || byKind["deploy"] != len(DeployMethods()) {
		t.Errorf("alternatives %v, want boot %d deploy %d", byKind, len(BootMethods()), len(DeployMethods()))
	}
}
