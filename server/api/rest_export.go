package api

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"golava/server/store"
)

// Result exports of a job, as LAVA's TestJobViewSet yaml/, csv/ and junit/
// actions (lava_results_app.utils.export_testcase).

// exportFields is LAVA's testcase_export_fields, the CSV columns.
var exportFields = []string{"job", "suite", "result", "measurement", "unit", "duration", "timeout",
	"logged", "level", "metadata", "url", "name", "id", "log_start_line", "log_end_line"}

// pyDatetime is Python's str() of an aware UTC datetime.
func pyDatetime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02 15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02 15:04:05.000000") + "+00:00"
}

func optLine(p *int64) string {
	if p == nil || *p == 0 {
		return ""
	}
	return strconv.FormatInt(*p, 10)
}

// exportCase is export_testcase: strings, and the metadata mapping.
func exportCase(c store.TestCaseRow) map[string]any {
	meta := map[string]any{}
	_ = yaml.Unmarshal([]byte(c.Metadata), &meta) // metadata the store wrote; bad means none
	if meta == nil {
		meta = map[string]any{}
	}
	measurement := "None"
	if c.Measurement != nil {
		measurement = *c.Measurement
	}
	level, _ := meta["level"].(string)
	return map[string]any{
		"name": c.Name, "job": strconv.FormatInt(c.JobID, 10), "suite": c.Suite, "result": c.Result,
		"measurement": measurement, "unit": c.Units, "level": level,
		"url": fmt.Sprintf("/results/testcase/%d", c.ID), "id": strconv.FormatInt(c.ID, 10),
		"logged": pyDatetime(c.Logged), "log_start_line": optLine(c.StartLog),
		"log_end_line": optLine(c.EndLog), "metadata": meta,
	}
}

// allCases reads every test case of a visible job, or answers the error.
func (s *Server) allCases(w http.ResponseWriter, r *http.Request) (*store.Job, []store.TestCaseRow, bool) {
	j, ok := s.visibleJob(w, r)
	if !ok {
		return nil, nil, false
	}
	cases, _, err := s.store.TestCases(r.Context(), j.ID, store.ResultFilter{})
	if err != nil {
		s.internalError(w, r, err)
		return nil, nil, false
	}
	return j, cases, true
}

func attachment(w http.ResponseWriter, ctype, name string) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", "attachment; filename="+name)
}

func (s *Server) exportYAML(w http.ResponseWriter, r *http.Request) {
	j, cases, ok := s.allCases(w, r)
	if !ok {
		return
	}
	list := make([]map[string]any, len(cases))
	for i, c := range cases {
		list[i] = exportCase(c)
	}
	out, err := yaml.Marshal(list)
	if err != nil {
		s.internalError(w, r, err)
		return
	}
	if len(list) == 0 {
		out = []byte("[]\n")
	}
	attachment(w, "application/yaml", fmt.Sprintf("job_%d.yaml", j.ID))
	w.Write(out)
}

func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	j, cases, ok := s.allCases(w, r)
	if !ok {
		return
	}
	attachment(w, "application/csv", fmt.Sprintf("job_%d.csv", j.ID))
	bw := bufio.NewWriter(w)
	writeQuotedRow(bw, exportFields)
	for _, c := range cases {
		e := exportCase(c)
		row := make([]string, len(exportFields))
		for i, f := range exportFields {
			switch v := e[f].(type) {
			case string:
				row[i] = v
			case map[string]any:
				row[i] = pyRepr(v)
			}
		}
		writeQuotedRow(bw, row)
	}
	bw.Flush()
}

// writeQuotedRow writes a CSV row as Python's csv.QUOTE_ALL does (every
// field quoted, rows ended by \r\n), which encoding/csv does not offer.
func writeQuotedRow(w *bufio.Writer, row []string) {
	for i, f := range row {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteByte('"')
		w.WriteString(strings.ReplaceAll(f, `"`, `""`))
		w.WriteByte('"')
	}
	w.WriteString("\r\n")
}

// pyRepr renders a mapping as Python's repr of a dict, keys sorted (the
// metadata is read from sorted YAML).
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		// Python picks double quotes for a string with ' and no ".
		q := "'"
		if strings.Contains(x, "'") && !strings.Contains(x, `"`) {
			q = `"`
		}
		return q + strings.NewReplacer(`\`, `\\`, q, `\`+q, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(x) + q
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyRepr(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = pyRepr(k) + ": " + pyRepr(x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return pyRepr(fmt.Sprint(v))
}

// junitCase, junitSuite and junitSuites are the JUnit XML of junit_xml.
type junitCase struct {
	XMLName   xml.Name `xml:"testcase"`
	ClassName string   `xml:"classname,attr"`
	Name      string   `xml:"name,attr"`
	Time      string   `xml:"time,attr,omitempty"`
	Timestamp string   `xml:"timestamp,attr"`
	Failure   *struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
	} `xml:"failure"`
	Skipped *struct {
		Type    string `xml:"type,attr"`
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
}

type junitSuite struct {
	XMLName   xml.Name    `xml:"testsuite"`
	Disabled  int         `xml:"disabled,attr"`
	Errors    int         `xml:"errors,attr"`
	Failures  int         `xml:"failures,attr"`
	Name      string      `xml:"name,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Tests     int         `xml:"tests,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Disabled int          `xml:"disabled,attr"`
	Errors   int          `xml:"errors,attr"`
	Failures int          `xml:"failures,attr"`
	Tests    int          `xml:"tests,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

func (s *Server) exportJUnit(w http.ResponseWriter, r *http.Request) {
	j, cases, ok := s.allCases(w, r)
	if !ok {
		return
	}
	prefix := r.URL.Query().Get("classname_prefix")
	if prefix != "" {
		prefix += "_"
	}
	out := junitSuites{Time: "0.0"}
	index := map[string]int{}
	for _, c := range cases {
		i, ok := index[c.Suite]
		if !ok {
			i = len(out.Suites)
			index[c.Suite] = i
			out.Suites = append(out.Suites, junitSuite{Name: c.Suite, Time: "0"})
		}
		su := &out.Suites[i]
		jc := junitCase{ClassName: prefix + c.Suite, Name: c.Name, Timestamp: events8601(c.Logged)}
		if d, ok := durationOf(c.Metadata); ok {
			jc.Time = d
		}
		switch c.Result {
		case "fail":
			jc.Failure = &struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
			}{"failure", "failed"}
			su.Failures++
			out.Failures++
		case "skip":
			jc.Skipped = &struct {
				Type    string `xml:"type,attr"`
				Message string `xml:"message,attr"`
			}{"skipped", "skipped"}
			su.Skipped++
		}
		if su.Timestamp < jc.Timestamp {
			su.Timestamp = jc.Timestamp
		}
		su.Tests++
		out.Tests++
		su.Cases = append(su.Cases, jc)
	}
	attachment(w, "application/xml", fmt.Sprintf("job_%d.xml", j.ID))
	w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(out); err != nil {
		s.logger.WarnContext(r.Context(), "junit export", "job_id", j.ID, "err", err)
	}
}

// events8601 is Python's isoformat of an aware UTC time.
func events8601(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05") + "+00:00"
	}
	return t.Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// durationOf reads metadata.duration, LAVA's JUnit elapsed time.
func durationOf(metadata string) (string, bool) {
	var m map[string]any
	if yaml.Unmarshal([]byte(metadata), &m) != nil {
		return "", false
	}
	switch d := m["duration"].(type) {
	case string:
		if f, err := strconv.ParseFloat(d, 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64), true
		}
	case float64:
		return strconv.FormatFloat(d, 'f', -1, 64), true
	case int:
		return strconv.Itoa(d), true
	}
	return "", false
}
