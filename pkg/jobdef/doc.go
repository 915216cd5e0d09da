// Package jobdef owns the LAVA job definition: its model, the YAML 1.1
// reader that keeps the line and column of every node, and the validator
// (lava-common's rules, strict or not, plus lava-server's submission
// checks) whose errors name the path, the line and what was expected.
package jobdef
