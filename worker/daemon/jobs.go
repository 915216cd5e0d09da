package daemon

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// jobStatus is the worker-side state of a job, LAVA's jobs.status column.
type jobStatus string

const (
	statusRunning   jobStatus = "running"
	statusCanceling jobStatus = "canceling"
	statusFinished  jobStatus = "finished" // lava-run gone (or never started), not yet reported
)

// jobRecord is one row of the jobs table. PID 0 means lava-run never ran.
type jobRecord struct {
	ID         int64     `json:"id"`
	PID        int       `json:"pid"`
	Status     jobStatus `json:"status"`
	LastUpdate time.Time `json:"last_update"`
	Prefix     string    `json:"prefix"`
	Token      string    `json:"token"`
}

// jobTable is the jobs table, kept in <worker-dir>/jobs.json so that a
// restarted worker knows its jobs (LAVA keeps it in sqlite). Only the
// daemon's loop goroutine uses it.
type jobTable struct {
	path string
	jobs map[int64]*jobRecord
}

type jobsFile struct {
	Jobs []*jobRecord `json:"jobs"`
}

// loadJobTable reads path; a missing file is an empty table.
func loadJobTable(path string) (*jobTable, error) {
	t := &jobTable{path: path, jobs: map[int64]*jobRecord{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return t, fmt.Errorf("read jobs table: %w", err)
	}
	var f jobsFile
	if err := json.Unmarshal(data, &f); err != nil {
		return t, fmt.Errorf("parse jobs table %s: %w", path, err)
	}
	for _, j := range f.Jobs {
		if j == nil || j.ID <= 0 {
			continue
		}
		switch j.Status {
		case statusRunning, statusCanceling, statusFinished:
		default:
			return t, fmt.Errorf("parse jobs table %s: job %d: unknown status %q", path, j.ID, j.Status)
		}
		t.jobs[j.ID] = j
	}
	return t, nil
}

func (t *jobTable) get(id int64) *jobRecord { return t.jobs[id] }

func (t *jobTable) put(j *jobRecord) { t.jobs[j.ID] = j }

func (t *jobTable) remove(id int64) { delete(t.jobs, id) }

func (t *jobTable) empty() bool { return len(t.jobs) == 0 }

// withStatus returns the jobs in st, by id, so reports go out in order.
func (t *jobTable) withStatus(st jobStatus) []*jobRecord {
	var out []*jobRecord
	for _, j := range t.jobs {
		if j.Status == st {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b *jobRecord) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (t *jobTable) ids() []int64 {
	var out []int64
	for id := range t.jobs {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// save writes the table to a temporary file and renames it over the old
// one, so a crash leaves either the old or the new table, never half of one.
func (t *jobTable) save() error {
	f := jobsFile{Jobs: []*jobRecord{}}
	for _, id := range t.ids() {
		f.Jobs = append(f.Jobs, t.jobs[id])
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode jobs table: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.path), ".jobs-*.json")
	if err != nil {
		return fmt.Errorf("save jobs table: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), t.path)
	}
	if err != nil {
		return fmt.Errorf("save jobs table: %w", err)
	}
	return nil
}

// signalJob signals lava-run's process group (it leads one), falling back
// to the process alone for a lava-run started without its own group.
func signalJob(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pid, sig); err == nil {
		return nil
	}
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("send %v to %d: %w", sig, pid, err)
	}
	return nil
}
