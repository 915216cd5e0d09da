package jobdef

import (
	"sort"
	"time"
)

// buildJob fills the typed model from a resolved document, reading what it
// can: fields of the wrong type are left zero (the validator reports them).
func buildJob(root *value) *Job {
	j := &Job{
		JobName:    strOf(root.get("job_name")),
		DeviceType: strOf(root.get("device_type")),
		Priority:   priorityOf(root.get("priority")),
		Visibility: visibilityOf(root.get("visibility")),
		Tags:       strsOf(root.get("tags")),
		Timeouts:   timeoutsOf(root.get("timeouts")),
		Context:    mapOfValue(root.get("context")),
		Metadata:   mapOfValue(root.get("metadata")),
		Secrets:    mapOfValue(root.get("secrets")),
		Protocols:  mapOfValue(root.get("protocols")),
		MultiNode:  multinodeOf(root.get("protocols").get("lava-multinode")),
	}
	if actions := root.get("actions"); actions != nil && actions.kind == kindSeq {
		for i, a := range actions.items {
			if act, ok := actionOf(a, i); ok {
				j.Actions = append(j.Actions, act)
			}
		}
	}
	return j
}

func strOf(v *value) string {
	if v == nil || v.kind != kindStr {
		return ""
	}
	return v.s
}

func strsOf(v *value) []string {
	if v == nil || v.kind != kindSeq {
		return nil
	}
	out := make([]string, 0, len(v.items))
	for _, it := range v.items {
		if it.kind == kindStr {
			out = append(out, it.s)
		}
	}
	return out
}

func mapOfValue(v *value) map[string]any {
	if v == nil || v.kind != kindMap {
		return nil
	}
	m, _ := v.goValue().(map[string]any)
	return m
}

func priorityOf(v *value) int {
	if v == nil {
		return DefaultPriority
	}
	switch v.kind {
	case kindStr:
		switch v.s {
		case "high":
			return 100
		case "low":
			return 0
		}
		return DefaultPriority
	}
	if f, ok := v.numberOK(); ok && f >= 0 && f <= 100 {
		return int(f)
	}
	return DefaultPriority
}

func visibilityOf(v *value) Visibility {
	if v == nil {
		return Visibility{}
	}
	if v.kind == kindStr {
		return Visibility{Kind: v.s}
	}
	if v.kind == kindMap {
		g := v.get("group")
		return Visibility{Kind: "group", Groups: strsOf(g)}
	}
	return Visibility{}
}

func durationOf(v *value) time.Duration {
	d, _ := timeoutOf(v)
	return d
}

func durationsOf(v *value) map[string]time.Duration {
	if v == nil || v.kind != kindMap {
		return nil
	}
	out := make(map[string]time.Duration, len(v.keys))
	for i, k := range v.keys {
		if d, ok := timeoutOf(v.vals[i]); ok {
			out[k.keyString()] = d
		}
	}
	return out
}

func timeoutsOf(v *value) Timeouts {
	return Timeouts{
		Job:         durationOf(v.get("job")),
		Action:      durationOf(v.get("action")),
		Connection:  durationOf(v.get("connection")),
		Actions:     durationsOf(v.get("actions")),
		Connections: durationsOf(v.get("connections")),
		Queue:       durationOf(v.get("queue")),
	}
}

func multinodeOf(v *value) *MultiNode {
	if v == nil || v.kind != kindMap {
		return nil
	}
	mn := &MultiNode{Timeout: durationOf(v.get("timeout")), Roles: map[string]Role{}}
	roles := v.get("roles")
	if roles == nil || roles.kind != kindMap {
		return mn
	}
	for i, k := range roles.keys {
		r := roles.vals[i]
		count := 0
		if f, ok := r.get("count").numberOK(); ok {
			count = int(f)
		}
		mn.Roles[k.keyString()] = Role{
			DeviceType: strOf(r.get("device_type")),
			Count:      count,
			Tags:       strsOf(r.get("tags")),
			Context:    mapOfValue(r.get("context")),
			Timeout:    durationOf(r.get("timeout")),
			Connection: strOf(r.get("connection")),
			HostRole:   strOf(r.get("host_role")),
			ExpectRole: strOf(r.get("expect_role")),
			Essential:  r.get("essential") != nil && r.get("essential").kind == kindBool && r.get("essential").b,
		}
	}
	return mn
}

// RoleNames returns the role names of a MultiNode block, sorted.
func (m *MultiNode) RoleNames() []string {
	if m == nil {
		return nil
	}
	names := make([]string, 0, len(m.Roles))
	for n := range m.Roles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func actionOf(a *value, index int) (Action, bool) {
	kind, body, ok := actionHead(a)
	if !ok {
		return Action{}, false
	}
	act := Action{Kind: kind, Index: index, Node: a.node}
	if body.kind == kindMap {
		switch kind {
		case "deploy":
			act.Method = strOf(body.get("to"))
		case "boot":
			act.Method = strOf(body.get("method"))
		}
		act.Timeout = durationOf(body.get("timeout"))
		act.Namespace = strOf(body.get("namespace"))
		act.Role = strsOf(body.get("role"))
		act.Params = mapOfValue(body)
	}
	return act, true
}
