package jobdef

import "encoding/json"

// Schema returns a JSON Schema (draft 2020-12) of the job definition,
// generated from the same description the validator walks. It describes
// the non-strict shape; rules across fields (timeouts against the job
// timeout, MultiNode roles, namespaces) are only in the validator.
func Schema() ([]byte, error) {
	s := topSchema().jsonSchema()
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://golava.invalid/schemas/job.json"
	s["title"] = "LAVA job definition"
	s["description"] = "A LAVA 2023.01 job definition as golava validates it."
	return json.MarshalIndent(s, "", "  ")
}
