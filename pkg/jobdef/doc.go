// Package jobdef owns the LAVA job definition: its model, the YAML parser
// that keeps the line and column of every node, and the validator whose
// errors name the path, the line and what was expected.
package jobdef
