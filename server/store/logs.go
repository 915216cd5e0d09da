package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"golava/pkg/logfmt"
)

// A job's log is stored in log_chunks: runs of consecutive records, each
// followed by "\n", keyed by the job and the number of the chunk's first
// line. jobs.log_lines counts the stored records; an upload carries the
// number of records the client believes stored (index), so a replayed upload
// stores nothing twice. Reading from line N is one index lookup.

const (
	// MaxLogRecord bounds one stored record (see checkRecords).
	MaxLogRecord = 1 << 20
	// logChunkBytes is the size after which a chunk is closed; a chunk may
	// exceed it by one record.
	logChunkBytes = 128 << 10
	// logReadChunks is how many chunks one read query returns, bounding
	// memory and connection hold time while streaming a large log.
	logReadChunks = 16
)

// LogError is an upload the server refuses, naming the record.
type LogError struct {
	Record int // 0-based index in the request, -1 for the whole request
	Msg    string
}

func (e *LogError) Error() string {
	if e.Record < 0 {
		return e.Msg
	}
	return fmt.Sprintf("record %d: %s", e.Record, e.Msg)
}

// ErrLogIndex is an upload index larger than the number of stored lines.
var ErrLogIndex = errors.New("index beyond the stored log")

// recordLevel finds the level of a record without decoding it when the
// record has the layout lava-run and logfmt write; ok is false otherwise.
func recordLevel(rec string) (lvl string, ok bool) {
	const key = `"lvl": "`
	i := strings.Index(rec, key)
	if i < 0 {
		return "", false
	}
	rest := rec[i+len(key):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// tooLongMsg is the message LAVA's lava-run logs instead of a huge one.
const tooLongMsg = "<line way too long ...>"

// checkRecords returns the records to store. A well-formed record larger
// than MaxLogRecord keeps its time and level with LAVA's "line way too
// long" message: lava-run truncates messages at 10^6 characters before
// escaping them, so a legitimate record can reach several MB, and refusing
// it would make lava-run resend the upload forever. Anything malformed is
// refused.
func checkRecords(records []string) ([]string, error) {
	out := records
	for i, r := range records {
		switch {
		case strings.ContainsAny(r, "\n\r"):
			return nil, &LogError{Record: i, Msg: "contains a newline"}
		case len(r) < 2 || r[0] != '{' || r[len(r)-1] != '}':
			return nil, &LogError{Record: i, Msg: "not a {\"dt\", \"lvl\", \"msg\"} mapping"}
		case len(r) > MaxLogRecord:
			line, err := decodeRecord(r)
			if err != nil {
				return nil, &LogError{Record: i, Msg: fmt.Sprintf("%d bytes, more than the %d allowed", len(r), MaxLogRecord)}
			}
			if &out[0] == &records[0] {
				out = append([]string(nil), records...)
			}
			line.Msg = tooLongMsg
			out[i] = logfmt.Encode(line)
		}
	}
	return out, nil
}

// AppendLog stores an upload of records (without the leading "- ") that
// the client numbers from index. Records already stored (the first
// stored-index ones) are skipped; results records create test cases and
// event records are published as .event and stored as debug, as LAVA does.
// It returns len(records), the count the client acknowledges.
func (s *Store) AppendLog(ctx context.Context, jobID, index int64, records []string) (int, error) {
	if index < 0 {
		return 0, &LogError{Record: -1, Msg: fmt.Sprintf("negative index %d", index)}
	}
	n := len(records)
	records, err := checkRecords(records)
	if err != nil {
		return 0, err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var realmID, stored int64
		err := tx.QueryRow(ctx, `SELECT realm_id, log_lines FROM jobs WHERE id = $1 FOR UPDATE`, jobID).Scan(&realmID, &stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("append log of job %d: %w", jobID, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("lock job %d: %w", jobID, err)
		}
		if index > stored {
			return fmt.Errorf("append log of job %d at %d, %d stored: %w", jobID, index, stored, ErrLogIndex)
		}
		skip := stored - index
		if skip >= int64(len(records)) {
			return nil
		}
		fresh := make([]string, len(records)-int(skip))
		lw := &logWriter{tx: tx, realmID: realmID, jobID: jobID, first: stored}
		for i, rec := range records[skip:] {
			if fresh[i], err = lw.process(ctx, rec, stored+int64(i)); err != nil {
				return &LogError{Record: int(skip) + i, Msg: err.Error()}
			}
		}
		return writeChunks(ctx, tx, jobID, stored, fresh)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// logWriter handles the records that do more than being stored.
type logWriter struct {
	tx      pgx.Tx
	realmID int64
	jobID   int64
	first   int64
	results *resultWriter
}

// process returns the record to store for rec, the line number-th of the log.
func (w *logWriter) process(ctx context.Context, rec string, number int64) (string, error) {
	lvl, ok := recordLevel(rec)
	if ok && lvl != logfmt.LevelResults && lvl != logfmt.LevelEvent {
		return rec, nil
	}
	line, err := decodeRecord(rec)
	if err != nil {
		return "", err
	}
	switch line.Lvl {
	case logfmt.LevelEvent:
		msg, isStr := line.Msg.(string)
		if !isStr {
			b, _ := json.Marshal(line.Msg) // decoded from JSON: always encodable
			msg = string(b)
		}
		if err := logEvent(ctx, w.tx, w.realmID, w.jobID, msg); err != nil {
			return "", err
		}
		line.Lvl = logfmt.LevelDebug
		return logfmt.Encode(line), nil
	case logfmt.LevelResults:
		if w.results == nil {
			w.results = newResultWriter(w.tx, w.jobID)
		}
		if m, isMap := line.Msg.(map[string]any); isMap {
			if err := w.results.add(ctx, m); err != nil {
				return "", err
			}
		}
	}
	return rec, nil
}

// decodeRecord reads a record as logfmt writes it (JSON-compatible) or as
// LAVA's lava-run does: PyYAML flow mappings whose escapes (\xE9) are not
// JSON and whose non-string values carry the non-specific tag (! "3").
func decodeRecord(rec string) (logfmt.Line, error) {
	line, err := logfmt.Decode(rec)
	if err == nil {
		return line, nil
	}
	var doc yaml.Node
	if yerr := yaml.Unmarshal([]byte(rec), &doc); yerr != nil {
		return logfmt.Line{}, err
	}
	untagNonSpecific(&doc)
	var raw struct {
		DT  string `yaml:"dt"`
		Lvl string `yaml:"lvl"`
		Msg any    `yaml:"msg"`
		NS  string `yaml:"ns"`
	}
	if yerr := doc.Decode(&raw); yerr != nil || raw.Lvl == "" {
		return logfmt.Line{}, err
	}
	dt, terr := time.Parse("2006-01-02T15:04:05.999999", raw.DT)
	if terr != nil {
		return logfmt.Line{}, fmt.Errorf("%w: dt %q", logfmt.ErrSyntax, raw.DT)
	}
	return logfmt.Line{DT: dt, Lvl: raw.Lvl, Msg: int64s(raw.Msg), NS: raw.NS}, nil
}

// untagNonSpecific makes "! \"3\"" scalars plain, so that they resolve to
// their implicit type as PyYAML does.
func untagNonSpecific(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!" {
		n.Tag, n.Style = "", 0
	}
	for _, c := range n.Content {
		untagNonSpecific(c)
	}
}

// int64s converts the ints of a decoded YAML value to int64, as logfmt's
// decoder returns them.
func int64s(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case map[string]any:
		for k, e := range x {
			x[k] = int64s(e)
		}
	case []any:
		for i, e := range x {
			x[i] = int64s(e)
		}
	}
	return v
}

type chunkRef struct {
	first        int64
	lines, bytes int
}

// writeChunks appends records, whose first is line number first, to the
// job's last chunk while it is under logChunkBytes, then to new chunks.
func writeChunks(ctx context.Context, tx pgx.Tx, jobID, first int64, records []string) error {
	var last *chunkRef
	var c chunkRef
	err := tx.QueryRow(ctx, `SELECT first_line, line_count, byte_count FROM log_chunks
WHERE job_id = $1 ORDER BY first_line DESC LIMIT 1`, jobID).Scan(&c.first, &c.lines, &c.bytes)
	switch {
	case err == nil:
		last = &c
	case !errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("read last log chunk of job %d: %w", jobID, err)
	}
	var buf bytes.Buffer
	cur := chunkRef{first: first}
	existing := false
	if last != nil && last.bytes < logChunkBytes {
		cur, existing = *last, true
		cur.lines, cur.bytes = 0, last.bytes
	}
	total := 0
	flush := func() error {
		if buf.Len() == 0 {
			return nil
		}
		var err error
		if existing {
			_, err = tx.Exec(ctx, `UPDATE log_chunks SET data = data || $3, line_count = line_count + $4,
    byte_count = byte_count + $5 WHERE job_id = $1 AND first_line = $2`, jobID, cur.first, buf.Bytes(), cur.lines, buf.Len())
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO log_chunks (job_id, first_line, line_count, byte_count, data)
VALUES ($1, $2, $3, $4, $5)`, jobID, cur.first, cur.lines, buf.Len(), buf.Bytes())
		}
		if err != nil {
			return fmt.Errorf("write log chunk %d of job %d: %w", cur.first, jobID, err)
		}
		total += buf.Len()
		buf.Reset()
		return nil
	}
	for i, r := range records {
		if cur.bytes >= logChunkBytes {
			if err := flush(); err != nil {
				return err
			}
			cur, existing = chunkRef{first: first + int64(i)}, false
		}
		buf.WriteString(r)
		buf.WriteByte('\n')
		cur.lines++
		cur.bytes += len(r) + 1
	}
	if err := flush(); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE jobs SET log_lines = log_lines + $2, log_bytes = log_bytes + $3 WHERE id = $1`,
		jobID, len(records), total)
	if err != nil {
		return fmt.Errorf("count log lines of job %d: %w", jobID, err)
	}
	return nil
}

// ReadLog returns lines [start, end) of a job's log; end < 0 means to the
// end. Lines past the end are not an error: the result is shorter.
func (s *Store) ReadLog(ctx context.Context, jobID, start, end int64) ([]string, error) {
	var out []string
	err := s.StreamLog(ctx, jobID, start, end, func(line []byte) error {
		out = append(out, string(line))
		return nil
	})
	return out, err
}

// StreamLog calls fn with each line [start, end) of a job's log (end < 0:
// to the end), reading a few chunks per query so that a huge log neither
// sits in memory nor holds a connection while fn writes to a slow client.
// fn must not keep line.
func (s *Store) StreamLog(ctx context.Context, jobID, start, end int64, fn func(line []byte) error) error {
	if start < 0 {
		start = 0
	}
	if end >= 0 && end <= start {
		return nil
	}
	var from int64
	err := s.pool.QueryRow(ctx, `SELECT first_line FROM log_chunks WHERE job_id = $1 AND first_line <= $2
ORDER BY first_line DESC LIMIT 1`, jobID, start).Scan(&from)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find log line %d of job %d: %w", start, jobID, err)
	}
	for {
		chunks, err := s.readChunks(ctx, jobID, from, end)
		if err != nil {
			return err
		}
		for _, c := range chunks {
			if done, err := emitLines(c, start, end, fn); done || err != nil {
				return err
			}
		}
		if len(chunks) < logReadChunks {
			return nil
		}
		from = chunks[len(chunks)-1].first + 1
	}
}

type chunkData struct {
	first int64
	data  []byte
}

func (s *Store) readChunks(ctx context.Context, jobID, from, end int64) ([]chunkData, error) {
	rows, err := s.pool.Query(ctx, `SELECT first_line, data FROM log_chunks
WHERE job_id = $1 AND first_line >= $2 AND ($3 < 0 OR first_line < $3)
ORDER BY first_line LIMIT $4`, jobID, from, end, logReadChunks)
	if err != nil {
		return nil, fmt.Errorf("read log chunks of job %d: %w", jobID, err)
	}
	chunks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chunkData, error) {
		var c chunkData
		err := r.Scan(&c.first, &c.data)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read log chunks of job %d: %w", jobID, err)
	}
	return chunks, nil
}

// emitLines calls fn for the lines of c in [start, end); done is true once
// end is reached.
func emitLines(c chunkData, start, end int64, fn func([]byte) error) (bool, error) {
	n := c.first
	data := c.data
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		if end >= 0 && n >= end {
			return true, nil
		}
		if n >= start {
			if err := fn(data[:i]); err != nil {
				return true, err
			}
		}
		n++
		data = data[min(i+1, len(data)):]
	}
	return false, nil
}
