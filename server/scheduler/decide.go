package scheduler

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
)

// Decide matches queued jobs to devices, as LAVA's scheduler does, in one
// pass over plain values:
//
//  1. Devices that need a health check (Unknown or Looping on a type with a
//     health check, or a Good one whose check is due) get it first, and
//     nothing else this pass.
//  2. Jobs go by priority (highest first), then submission order (lowest id
//     first), queued health checks ahead of everything; each takes a free
//     device that matches its type (or requested device) and has every tag
//     it asks for, on an Online, Active worker with room, preferring the
//     device with the fewest tags (ties broken at random by State.Seed).
//  3. A MultiNode group is placed whole or not at all.
//
// A device gets at most one job per pass. Decide does not modify s.
func Decide(s State) Plan {
	p := newPlanner(&s)
	p.healthChecks()
	p.jobs()
	return p.plan
}

type workerSlot struct {
	w    *Worker
	busy int
}

type deviceSlot struct {
	d      *Device
	tags   map[string]struct{}
	worker *workerSlot
	// pos is the slot's index in its type's free list, -1 when not free.
	pos int
}

// failKey identifies jobs that are matched the same way; once one of them
// finds no device, none of the others can this pass, since devices are only
// ever taken away.
type failKey struct {
	typ, dev int64
	tags     string
}

type planner struct {
	s       *State
	types   map[int64]*DeviceType
	devices map[int64]*deviceSlot
	free    map[int64][]*deviceSlot
	nFree   int
	// hcJobs maps a device to the queued health-check job that targets it.
	hcJobs map[int64]int
	done   []bool
	groups map[string][]int
	failed map[failKey]struct{}
	plan   Plan
}

func newPlanner(s *State) *planner {
	p := &planner{
		s:       s,
		types:   make(map[int64]*DeviceType, len(s.DeviceTypes)),
		devices: make(map[int64]*deviceSlot, len(s.Devices)),
		free:    make(map[int64][]*deviceSlot),
		hcJobs:  make(map[int64]int),
		done:    make([]bool, len(s.Jobs)),
		groups:  make(map[string][]int),
		failed:  make(map[failKey]struct{}),
	}
	for i := range s.DeviceTypes {
		p.types[s.DeviceTypes[i].ID] = &s.DeviceTypes[i]
	}
	workers := make(map[int64]*workerSlot, len(s.Workers))
	for i := range s.Workers {
		workers[s.Workers[i].ID] = &workerSlot{w: &s.Workers[i], busy: s.Workers[i].Busy}
	}
	for i := range s.Devices {
		d := &s.Devices[i]
		slot := &deviceSlot{d: d, worker: workers[d.Worker], pos: -1}
		if len(d.Tags) > 0 {
			slot.tags = make(map[string]struct{}, len(d.Tags))
			for _, t := range d.Tags {
				slot.tags[t] = struct{}{}
			}
		}
		p.devices[d.ID] = slot
	}
	for i := range s.Jobs {
		j := &s.Jobs[i]
		if j.Group != "" {
			p.groups[j.Group] = append(p.groups[j.Group], i)
		} else if j.HealthCheck && j.Device != 0 {
			if _, dup := p.hcJobs[j.Device]; !dup {
				p.hcJobs[j.Device] = i
			}
		}
	}
	return p
}

// healthChecks runs step 1 and fills the free lists with the devices left
// open to normal jobs.
func (p *planner) healthChecks() {
	order := make([]*deviceSlot, 0, len(p.devices))
	for _, slot := range p.devices {
		order = append(order, slot)
	}
	slices.SortFunc(order, func(a, b *deviceSlot) int {
		return cmp.Or(strings.Compare(a.d.Hostname, b.d.Hostname), cmp.Compare(a.d.ID, b.d.ID))
	})
	for _, slot := range order {
		d, dt := slot.d, p.types[slot.d.Type]
		if !deviceIdle(d) || slot.worker == nil || !workerUsable(slot.worker.w) || !typeSchedulable(dt) {
			continue
		}
		if healthCheckDue(dt, d, p.s.Now) {
			if healthTakesHealthCheck(d.Health) && workerHasRoom(slot.worker.w, slot.worker.busy) {
				p.scheduleHealthCheck(slot)
			}
			continue
		}
		if healthTakesJobs(d.Health) {
			slot.pos = len(p.free[d.Type])
			p.free[d.Type] = append(p.free[d.Type], slot)
			p.nFree++
		}
	}
	var rng *rand.Rand
	if p.s.Seed != 0 {
		rng = rand.New(rand.NewPCG(p.s.Seed, p.s.Seed>>1|1))
	}
	for _, list := range p.free {
		if rng != nil {
			rng.Shuffle(len(list), func(i, k int) { list[i], list[k] = list[k], list[i] })
		}
		// Least-tagged first: a job takes the plainest device that fits,
		// keeping tagged boards for the jobs that need their tags.
		slices.SortStableFunc(list, func(a, b *deviceSlot) int { return cmp.Compare(len(a.tags), len(b.tags)) })
		for i, slot := range list {
			slot.pos = i
		}
	}
}

// scheduleHealthCheck books slot for a health check: the queued one that
// targets it if any, else a new one from its type's definition.
func (p *planner) scheduleHealthCheck(slot *deviceSlot) {
	slot.worker.busy++
	if i, ok := p.hcJobs[slot.d.ID]; ok {
		p.done[i] = true
		p.plan.Assignments = append(p.plan.Assignments, Assignment{
			Placements: []Placement{{JobID: p.s.Jobs[i].ID, DeviceID: slot.d.ID}},
		})
		return
	}
	p.plan.HealthChecks = append(p.plan.HealthChecks, HealthCheck{DeviceID: slot.d.ID, DeviceType: slot.d.Type})
}

// jobs runs steps 2 and 3 over the queue in priority order.
func (p *planner) jobs() {
	order := make([]int32, len(p.s.Jobs))
	for i := range order {
		order[i] = int32(i)
	}
	jobs := p.s.Jobs
	fair := fairKeys(jobs, p.s.Shares)
	slices.SortFunc(order, func(a, b int32) int {
		ja, jb := &jobs[a], &jobs[b]
		if ja.HealthCheck != jb.HealthCheck {
			if ja.HealthCheck {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(jb.Priority, ja.Priority); c != 0 || fair == nil {
			return cmp.Or(c, cmp.Compare(ja.ID, jb.ID))
		}
		return cmp.Or(cmp.Compare(fair[a], fair[b]), cmp.Compare(ja.ID, jb.ID))
	})
	for _, i := range order {
		if p.nFree == 0 {
			return
		}
		if p.done[i] {
			continue
		}
		j := &jobs[i]
		if j.Group != "" {
			p.placeGroup(j.Group)
			continue
		}
		p.done[i] = true
		if slot := p.placeOne(j); slot != nil {
			p.take(slot)
			p.plan.Assignments = append(p.plan.Assignments, Assignment{
				Placements: []Placement{{JobID: j.ID, DeviceID: slot.d.ID}},
			})
		}
	}
}

// placeOne finds a device for a single-node job, remembering failures.
func (p *planner) placeOne(j *Job) *deviceSlot {
	if j.Device == 0 && j.DeviceType == 0 {
		return nil // only a MultiNode dynamic connection runs without a device
	}
	key := failKey{typ: j.DeviceType, dev: j.Device, tags: strings.Join(j.Tags, "\x00")}
	if _, ok := p.failed[key]; ok {
		return nil
	}
	slot := p.find(j)
	if slot == nil {
		p.failed[key] = struct{}{}
	}
	return slot
}

// find returns the first free device the job may run on, or nil.
func (p *planner) find(j *Job) *deviceSlot {
	if j.Device != 0 {
		slot := p.devices[j.Device]
		if slot != nil && slot.pos >= 0 && typeMatches(j, slot.d) && p.fits(j, slot) {
			return slot
		}
		return nil
	}
	for _, slot := range p.free[j.DeviceType] {
		if p.fits(j, slot) {
			return slot
		}
	}
	return nil
}

// fits checks the rules that change during a pass (worker room) or differ
// per job (tags); the free list already holds only idle, healthy devices on
// usable workers.
func (p *planner) fits(j *Job, slot *deviceSlot) bool {
	return workerHasRoom(slot.worker.w, slot.worker.busy) && hasTags(j.Tags, slot.tags)
}

// placeGroup places every sub-job of a MultiNode group, or none.
func (p *planner) placeGroup(group string) {
	members := p.groups[group]
	for _, i := range members {
		p.done[i] = true
	}
	if len(members) != p.s.Jobs[members[0]].GroupSize {
		return // part of the group is not queued (or not loaded): wait
	}
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b int) int { return cmp.Compare(p.s.Jobs[a].ID, p.s.Jobs[b].ID) })
	var taken []takenSlot
	placements := make([]Placement, 0, len(members))
	for _, i := range members {
		j := &p.s.Jobs[i]
		if j.Device == 0 && j.DeviceType == 0 {
			placements = append(placements, Placement{JobID: j.ID})
			continue
		}
		var slot *deviceSlot
		if _, failed := p.failed[failKey{typ: j.DeviceType, dev: j.Device, tags: strings.Join(j.Tags, "\x00")}]; !failed {
			slot = p.find(j)
		}
		if slot == nil {
			for k := len(taken) - 1; k >= 0; k-- {
				p.untake(taken[k])
			}
			return
		}
		taken = append(taken, takenSlot{slot, slot.pos})
		p.take(slot)
		placements = append(placements, Placement{JobID: j.ID, DeviceID: slot.d.ID})
	}
	p.plan.Assignments = append(p.plan.Assignments, Assignment{Group: group, Placements: placements})
}

// take removes slot from its free list, keeping the list's order, and
// counts it on its worker.
func (p *planner) take(slot *deviceSlot) {
	list := p.free[slot.d.Type]
	copy(list[slot.pos:], list[slot.pos+1:])
	list = list[:len(list)-1]
	for i := slot.pos; i < len(list); i++ {
		list[i].pos = i
	}
	p.free[slot.d.Type] = list
	slot.pos = -1
	slot.worker.busy++
	p.nFree--
}

type takenSlot struct {
	slot *deviceSlot
	pos  int
}

// untake gives back a device taken for a group that could not be placed, at
// its old position; undoing takes in reverse order restores the free list
// exactly, so a failed group leaves no trace on the rest of the pass.
func (p *planner) untake(t takenSlot) {
	list := append(p.free[t.slot.d.Type], nil)
	copy(list[t.pos+1:], list[t.pos:])
	list[t.pos] = t.slot
	for i := t.pos; i < len(list); i++ {
		list[i].pos = i
	}
	p.free[t.slot.d.Type] = list
	t.slot.worker.busy--
	p.nFree++
}

// fairKeys orders jobs of equal priority by fair share: the n-th queued job
// (by submission) of a group that runs r jobs gets (r+n)/weight, so groups
// take turns in proportion to their weights whatever the length of their
// queues. Jobs of no weighted group form group 0, of weight 1. nil when no
// group is weighted.
func fairKeys(jobs []Job, shares map[int64]Share) []float64 {
	if len(shares) == 0 {
		return nil
	}
	byID := make([]int32, len(jobs))
	for i := range byID {
		byID[i] = int32(i)
	}
	slices.SortFunc(byID, func(a, b int32) int { return cmp.Compare(jobs[a].ID, jobs[b].ID) })
	rank := make(map[int64]int, len(shares))
	keys := make([]float64, len(jobs))
	for _, i := range byID {
		g := jobs[i].Share
		sh, ok := shares[g]
		if !ok || sh.Weight <= 0 {
			sh.Weight = 1
		}
		rank[g]++
		keys[i] = float64(sh.Running+rank[g]) / sh.Weight
	}
	return keys
}
