package jobdef

// Limits bound what Parse reads, so a hostile document cannot exhaust memory.
const (
	MaxDefinitionBytes = 4 << 20
	MaxDepth           = 64
)

// Parse reads a job definition. The error, when not nil, is an ErrorList with
// every problem found (syntax errors stop the parse; schema errors are all
// collected).
//
// Options: strict rejects unknown keys everywhere, as lava-common's
// validate(strict=True).
func Parse(data []byte) (*Job, error) { return ParseWith(data, Options{}) }

// Options tune validation.
type Options struct {
	Strict bool
	// Submission also applies lava-server's submission checks
	// (lava_scheduler_app/schema.py): set it where jobs are submitted, so
	// that a job either gate would refuse is refused at once. Leave it
	// unset to match lava-common's validate() alone (the validate API,
	// lava-run).
	Submission bool
}
