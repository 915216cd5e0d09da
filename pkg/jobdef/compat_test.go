package jobdef

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mutationsPerExample × the 43 examples gives the mutation corpus (≥ 500).
const mutationsPerExample = 16

// compatCase is one document both validators judge.
type compatCase struct {
	name   string
	doc    []byte
	strict bool
}

// mutationCorpus derives deterministic mutations from the example jobs.
func mutationCorpus(t testing.TB, examples []compatCase) []compatCase {
	t.Helper()
	seen := map[string]bool{}
	var out []compatCase
	for i, ex := range examples {
		r := rand.New(rand.NewSource(int64(1000 + i)))
		for j := 0; j < mutationsPerExample; j++ {
			doc, kind, err := mutate(r, ex.doc)
			if err != nil {
				t.Fatalf("%s: %v", ex.name, err)
			}
			strict := r.Intn(2) == 0
			key := fmt.Sprint(strict, string(doc))
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, compatCase{fmt.Sprintf("%s#%d(%s,strict=%v)", ex.name, j, kind, strict), doc, strict})
		}
	}
	return out
}

func exampleCorpus(t testing.TB) []compatCase {
	t.Helper()
	var out []compatCase
	for _, f := range exampleJobs(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, compatCase{filepath.Base(f), data, false})
	}
	return out
}

// agreement runs every case through both validators and returns the
// number that agree on valid/invalid with a description of the others.
// samePlace counts the jobs both find invalid where one of golava's errors
// is at lava-common's path (or inside or above it): lava-common stops at
// its first error, golava reports them all.
func agreement(t *testing.T, py *lavaPy, cases []compatCase) (agree, invalid, samePlace int, diffs []string) {
	t.Helper()
	for _, c := range cases {
		want := py.validate(c.doc, c.strict)
		errs := Validate(c.doc, Options{Strict: c.strict})
		if !want.Valid {
			invalid++
		}
		if want.Valid == (len(errs) == 0) {
			agree++
			if !want.Valid && hasPath(errs, want.Path) {
				samePlace++
			}
			continue
		}
		ours := "valid"
		if len(errs) > 0 {
			ours = errs.Error()
		}
		theirs := "valid"
		if !want.Valid {
			theirs = want.Path + ": " + want.Error
		}
		diffs = append(diffs, fmt.Sprintf("%s:\n    lava-common: %s\n    golava:      %s\n%s", c.name, theirs, ours, indent(c.doc)))
	}
	return agree, invalid, samePlace, diffs
}

// lavaActionPath is the path lava-common gives an error inside an action:
// it names the schema module too (actions[3].deploy.ssh.connection).
var lavaActionPath = regexp.MustCompile(`^(actions\[\d+\]\.(?:boot|deploy|test|command))\.[a-z_]+(\.|$)`)

// lavaIndexPath is check_job_timeouts' path of an action: actions.3.
var lavaIndexPath = regexp.MustCompile(`^actions\.(\d+)`)

func hasPath(errs ErrorList, path string) bool {
	path = lavaIndexPath.ReplaceAllString(path, "actions[$1]")
	if m := lavaActionPath.FindStringSubmatchIndex(path); m != nil && !strings.HasSuffix(path, ".method") && !strings.HasSuffix(path, ".to") {
		alt := path[:m[3]] + path[m[4]:]
		if alt != path && hasPath(errs, strings.TrimSuffix(alt, ".")) {
			return true
		}
	}
	for _, e := range errs {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") ||
			strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[") {
			return true
		}
	}
	return false
}

func indent(doc []byte) string {
	if len(doc) > 4000 {
		doc = append(doc[:4000:4000], "…"...)
	}
	return "      | " + strings.ReplaceAll(strings.TrimRight(string(doc), "\n"), "\n", "\n      | ")
}

// TestLAVACompatJobs validates every example job of lava-server-doc (plain
// and strict) and hundreds of mutations of them with golava and with the
// real lava-common 2023.01 (one python3 process for the whole batch):
// the examples must agree 100%, the mutations at least 99%.
func TestLAVACompatJobs(t *testing.T) {
	t.Parallel()
	py := startLavaPy(t, filepath.Join("testdata", "lava", "validate.py"))
	examples := exampleCorpus(t)
	var both []compatCase
	for _, c := range examples {
		both = append(both, c, compatCase{c.name + "(strict)", c.doc, true})
	}
	agree, invalid, same, diffs := agreement(t, py, both)
	t.Logf("examples: %d/%d agree with lava-common (%d invalid per lava-common, %d with an error at its path)", agree, len(both), invalid, same)
	for _, d := range diffs {
		t.Errorf("example disagreement: %s", d)
	}

	muts := mutationCorpus(t, examples)
	if len(muts) < 500 {
		t.Fatalf("only %d distinct mutations, want at least 500", len(muts))
	}
	agree, invalid, same, diffs = agreement(t, py, muts)
	rate := 100 * float64(agree) / float64(len(muts))
	t.Logf("mutations: %d/%d agree with lava-common (%.2f%%; %d invalid per lava-common, %d with an error at its path)",
		agree, len(muts), rate, invalid, same)
	for _, d := range diffs {
		t.Logf("mutation disagreement: %s", d)
	}
	if rate < 99 {
		t.Errorf("mutations agree %.2f%%, want at least 99%%", rate)
	}
}
