package devconf

import (
	"regexp"
	"strings"
)

// printedNoneDefault is a printed expression that ends with default(None).
var printedNoneDefault = regexp.MustCompile(`(\|\s*(?:default|d)\(\s*)None\s*\)(\s*)$`)

// jinjaCompat rewrites template source so that gonja reads it as Python's
// Jinja2 does, keeping every line where it was (errors keep their line
// numbers). Inside {% %} and {{ }} tags, outside string literals:
//
//   - adjacent string literals ("a" "b", a Python-ism base-uboot.jinja2
//     uses) become one parenthesised concatenation: ("a" ~ "b");
//   - a line break followed at once by a token gets a space after it
//     (gonja mis-lexes a string literal that starts a line);
//   - a trailing comma before ], } or ) is dropped;
//   - every {{ expr }} becomes {{ (expr) | pystr }}, which prints values
//     as Python's str() does (lists and dicts as their repr).
func jinjaCompat(src string) string {
	var b strings.Builder
	b.Grow(len(src) + len(src)/16)
	for i := 0; i < len(src); {
		if i+1 < len(src) && src[i] == '{' && (src[i+1] == '%' || src[i+1] == '{' || src[i+1] == '#') {
			end := tagEnd(src, i)
			switch {
			case src[i+1] == '#':
				b.WriteString(src[i:end])
			case src[i+1] == '{' && end-i >= 4:
				b.WriteString(wrapOutput(rewriteTag(src[i+2 : end-2])))
			default:
				b.WriteString(src[i : i+2])
				b.WriteString(rewriteTag(src[i+2 : end-2]))
				b.WriteString(src[end-2 : end])
			}
			i = end
			continue
		}
		b.WriteByte(src[i])
		i++
	}
	return b.String()
}

// tagEnd returns the index just after the tag starting at i (or len(src)
// when it is unterminated), skipping string literals inside it.
func tagEnd(src string, i int) int {
	closer := map[byte]string{'%': "%}", '{': "}}", '#': "#}"}[src[i+1]]
	j := i + 2
	for j < len(src) {
		if closer != "#}" && (src[j] == '\'' || src[j] == '"') {
			j = stringEnd(src, j)
			continue
		}
		if strings.HasPrefix(src[j:], closer) {
			return j + 2
		}
		j++
	}
	return len(src)
}

// stringEnd returns the index after the string literal starting at i.
func stringEnd(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case q:
			return j + 1
		}
	}
	return len(s)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// rewriteTag applies the rewrites to the inside of one tag.
func rewriteTag(t string) string {
	var b strings.Builder
	for i := 0; i < len(t); {
		c := t[i]
		if c == '\'' || c == '"' {
			// Gather a run of literals separated only by white space.
			var lits, gaps []string
			j := i
			for {
				e := stringEnd(t, j)
				lits = append(lits, t[j:e])
				k := e
				for k < len(t) && isSpace(t[k]) {
					k++
				}
				if k < len(t) && (t[k] == '\'' || t[k] == '"') {
					gaps = append(gaps, t[e:k])
					j = k
					continue
				}
				i = e
				break
			}
			if len(lits) == 1 {
				b.WriteString(lits[0])
				continue
			}
			b.WriteByte('(')
			for n, lit := range lits {
				if n > 0 {
					b.WriteString(" ~")
					b.WriteString(spaceAfterBreaks(gaps[n-1]))
				}
				b.WriteString(lit)
			}
			b.WriteByte(')')
			continue
		}
		if c == ',' && trailingComma(t[i+1:]) {
			b.WriteByte(' ') // Python accepts [a, b,] and {a: b,}; gonja does not
			i++
			continue
		}
		b.WriteByte(c)
		i++
		if c == '\n' && i < len(t) && !isSpace(t[i]) {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// spaceAfterBreaks makes sure white space ending in a line break is
// followed by a space.
func spaceAfterBreaks(gap string) string {
	if strings.HasSuffix(gap, "\n") {
		return gap + " "
	}
	if gap == "" {
		return " "
	}
	return gap
}

// trailingComma tells whether rest (what follows a comma) closes a
// collection at once.
func trailingComma(rest string) bool {
	rest = strings.TrimLeft(rest, " \t\r\n")
	return rest != "" && (rest[0] == ']' || rest[0] == '}' || rest[0] == ')')
}

// pystrName is the filter wrapOutput appends.
const pystrName = "pystr"

// wrapOutput rewrites the inside of {{ }}, keeping whitespace control.
func wrapOutput(inner string) string {
	lead, trail := "", ""
	if strings.HasPrefix(inner, "-") || strings.HasPrefix(inner, "+") {
		lead, inner = inner[:1], inner[1:]
	}
	if strings.HasSuffix(inner, "-") || strings.HasSuffix(inner, "+") {
		trail, inner = inner[len(inner)-1:], inner[:len(inner)-1]
	}
	if strings.TrimSpace(inner) == "" {
		return "{{" + lead + inner + trail + "}}"
	}
	// gonja's None is its undefined, which prints empty; Jinja2 prints
	// "None" for {{ x | default(None) }} (base-uboot.jinja2 does that).
	inner = printedNoneDefault.ReplaceAllString(inner, "${1}'None')$2")
	return "{{" + lead + " (" + inner + ") | " + pystrName + " " + trail + "}}"
}
