package scheduler

import (
	"slices"
	"sort"
	"testing"
)

func share(g int64) jobOpt { return func(j *Job) { j.Share = g } }

// TestDecideFairShare: among jobs of one priority, weighted groups take
// the free devices in proportion to their weights and the jobs they
// already run, however many jobs each queued; priority still comes first.
func TestDecideFairShare(t *testing.T) {
	t.Parallel()
	const a, b = 10, 20
	flood := func(s *State) {
		for id := int64(1); id <= 10; id++ {
			s.Jobs = append(s.Jobs, job(id, qemu, share(a)))
		}
		s.Jobs = append(s.Jobs, job(11, qemu, share(b)), job(12, qemu, share(b)))
	}
	tests := []struct {
		name   string
		shares map[int64]Share
		extra  func(*State)
		want   []int64 // jobs placed, by id
	}{
		{"no fair share: submission order", nil, nil, []int64{1, 2, 3, 4}},
		{"equal weights interleave", map[int64]Share{a: {Weight: 1}, b: {Weight: 1}}, nil, []int64{1, 2, 11, 12}},
		{"weight 3 to 1", map[int64]Share{a: {Weight: 3}, b: {Weight: 1}}, nil, []int64{1, 2, 3, 11}},
		{"running jobs count", map[int64]Share{a: {Weight: 1, Running: 3}, b: {Weight: 1}}, nil, []int64{1, 11, 12, 2}},
		{"priority first", map[int64]Share{a: {Weight: 1}, b: {Weight: 1}},
			func(s *State) {
				s.Jobs = append(s.Jobs, job(13, qemu, share(a), prio(100)), job(14, qemu, share(a), prio(100)))
			},
			[]int64{13, 14, 1, 11}},
		{"unweighted submitters are group 0", map[int64]Share{a: {Weight: 1}, b: {Weight: 1}},
			func(s *State) { s.Jobs = append(s.Jobs, job(15, qemu)) }, []int64{1, 11, 15, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := baseState()
			s.Devices = []Device{dev(1, qemu), dev(2, qemu), dev(3, qemu), dev(4, qemu)}
			flood(&s)
			if tt.extra != nil {
				tt.extra(&s)
			}
			s.Shares = tt.shares
			var got []int64
			for _, as := range Decide(s).Assignments {
				got = append(got, as.Placements[0].JobID)
			}
			sort.Slice(got, func(i, k int) bool { return got[i] < got[k] })
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("placed %v, want %v", got, want)
			}
		})
	}
}
