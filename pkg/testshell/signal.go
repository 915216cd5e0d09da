package testshell

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Signal names printed by the DUT-side helpers.
const (
	StartRun      = "STARTRUN"
	EndRun        = "ENDRUN"
	StartTC       = "STARTTC"
	EndTC         = "ENDTC"
	TestCase      = "TESTCASE"
	TestSet       = "TESTSET"
	TestReference = "TESTREFERENCE"
	TestRaise     = "TESTRAISE"
	TestEvent     = "TESTEVENT"
	TestFeedback  = "TESTFEEDBACK"
	// RunnerExit and RunnerInstallFail are the two <LAVA_TEST_RUNNER X>
	// markers; they are reported as signals with these names.
	RunnerExit        = "RUNNER_EXIT"
	RunnerInstallFail = "RUNNER_INSTALL_FAIL"
)

// Signal is one marker found on a console line.
type Signal struct {
	Name   string
	Params []string
}

const (
	signalPrefix = "<LAVA_SIGNAL_"
	runnerPrefix = "<LAVA_TEST_RUNNER "
)

// ParseLine recognises a marker at the start of a cleaned console line
// (leading blanks allowed). Markers elsewhere on the line are ignored on
// purpose: the console echoes typed commands and `set -x` traces, and those
// carry the marker text after a prompt or "+ ", never at the line start.
func ParseLine(line string) (Signal, bool) {
	line = strings.TrimLeft(line, " \t")
	switch {
	case strings.HasPrefix(line, signalPrefix):
		rest := line[len(signalPrefix):]
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return Signal{}, false
		}
		name, params, ok := strings.Cut(rest[:end], " ")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return Signal{}, false
		}
		fields := strings.Fields(params)
		if len(fields) == 0 {
			return Signal{}, false
		}
		return Signal{Name: name, Params: fields}, true
	case strings.HasPrefix(line, runnerPrefix):
		rest := line[len(runnerPrefix):]
		switch {
		case strings.HasPrefix(rest, "EXIT>"):
			return Signal{Name: RunnerExit}, true
		case strings.HasPrefix(rest, "INSTALL_FAIL>"):
			return Signal{Name: RunnerInstallFail}, true
		}
	}
	return Signal{}, false
}

// CleanLine removes terminal escape sequences (CSI "ESC [ ... final", OSC
// "ESC ] ... BEL", and two-byte escapes) and trailing carriage returns, so a
// marker printed by a coloured or line-editing shell still matches.
func CleanLine(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return strings.TrimRight(s, "\r")
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != 0x1b {
			b.WriteByte(c)
			continue
		}
		i = skipEscape(s, i)
	}
	return strings.TrimRight(b.String(), "\r")
}

// skipEscape returns the index of the last byte of the escape starting at i.
func skipEscape(s string, i int) int {
	if i+1 >= len(s) {
		return i
	}
	switch s[i+1] {
	case '[':
		for j := i + 2; j < len(s); j++ {
			if s[j] >= 0x40 && s[j] <= 0x7e {
				return j
			}
		}
		return len(s) - 1
	case ']':
		for j := i + 2; j < len(s); j++ {
			if s[j] == 0x07 {
				return j
			}
			if s[j] == 0x1b && j+1 < len(s) && s[j+1] == '\\' {
				return j + 1
			}
		}
		return len(s) - 1
	}
	return i + 1
}

// Result is one test case result as the test shell reports it.
type Result struct {
	ID     string
	Result string // pass, fail, skip or unknown
	// Measurement is set when HasMeasurement.
	Measurement    float64
	HasMeasurement bool
	Units          string
}

// ErrBadResult is wrapped by errors about a result the shell cannot record.
var ErrBadResult = errors.New("invalid test case result")

// ValidResults are the results LAVA accepts.
var ValidResults = map[string]bool{"pass": true, "fail": true, "skip": true, "unknown": true}

// ParseTestCase reads the KEY=VALUE parameters of a TESTCASE signal.
// fixup maps raw results to LAVA results (the definition's fixupdict).
func ParseTestCase(params []string, fixup map[string]string) (Result, error) {
	fields := make(map[string]string, len(params))
	for _, p := range params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.Contains(v, "=") {
			return Result{}, fmt.Errorf("%w: malformed parameter %q", ErrBadResult, p)
		}
		fields[strings.ToLower(k)] = v
	}
	return resultFromFields(fields, fixup)
}

func resultFromFields(fields map[string]string, fixup map[string]string) (Result, error) {
	r := Result{ID: fields["test_case_id"], Units: fields["units"]}
	if r.ID == "" {
		return r, fmt.Errorf("%w: no test_case_id in %v", ErrBadResult, fields)
	}
	raw, ok := fields["result"]
	if !ok {
		return r, fmt.Errorf("%w: no result for %q", ErrBadResult, r.ID)
	}
	r.Result = raw
	if f, ok := fixup[raw]; ok {
		r.Result = f
	}
	if !ValidResults[r.Result] {
		return r, fmt.Errorf("%w: bad result %q for %q", ErrBadResult, raw, r.ID)
	}
	if m, ok := fields["measurement"]; ok {
		v, err := strconv.ParseFloat(m, 64)
		if err != nil {
			return r, fmt.Errorf("%w: bad measurement %q for %q", ErrBadResult, m, r.ID)
		}
		r.Measurement, r.HasMeasurement = v, true
	}
	return r, nil
}

// Pattern is a definition's parse.pattern: a regular expression with named
// groups test_case_id, result and optionally measurement and units.
type Pattern struct {
	re    *regexp.Regexp
	fixup map[string]string
}

// CompilePattern compiles a parse.pattern (Python (?P<name>) groups work).
func CompilePattern(expr string, fixup map[string]string) (*Pattern, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("parse pattern %q: %w", expr, err)
	}
	return &Pattern{re: re, fixup: fixup}, nil
}

// Match applies the pattern to one cleaned line. ok is false when the line
// does not match; err is set when it matches but is not a valid result.
func (p *Pattern) Match(line string) (r Result, ok bool, err error) {
	m := p.re.FindStringSubmatch(line)
	if m == nil {
		return Result{}, false, nil
	}
	fields := make(map[string]string, 4)
	for i, name := range p.re.SubexpNames() {
		if name != "" && i < len(m) && m[i] != "" {
			fields[name] = m[i]
		}
	}
	r, err = resultFromFields(fields, p.fixup)
	if err == nil && strings.ContainsAny(strings.TrimSpace(r.ID), " \t") {
		err = fmt.Errorf("%w: test_case_id %q has blanks", ErrBadResult, r.ID)
	}
	return r, true, err
}
