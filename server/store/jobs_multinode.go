package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.yaml.in/yaml/v3"

	"golava/pkg/jobdef"
)

// A MultiNode submission becomes one job per role and count, each with its
// own definition, split from the submission as LAVA's split_multinode_yaml
// does: the shared top-level keys, the role's scheduling keys, the actions
// naming the role (with role set to that single name), and a lava-multinode
// block carrying target_group, role, group_size and sub_id.

// subJob is one split definition.
type subJob struct {
	role       string
	subID      int
	definition string
}

var (
	mnCopies     = []string{"job_name", "timeouts", "priority", "visibility", "notify", "metadata", "reboot_to_fastboot"}
	mnScheduling = []string{"device_type", "connection", "host_role", "context"}
)

func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand contract)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// mapGet returns the value of key in a mapping node; the last one wins, as
// PyYAML keeps the last of duplicate keys.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v = m.Content[i+1]
		}
	}
	return v
}

func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, strScalar(key), v)
}

func strScalar(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intScalar(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func newMap() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"} }

// copyNode deep-copies n, expanding aliases so that a split document never
// refers to an anchor left in another part of the submission.
func copyNode(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return copyNode(n.Alias)
	}
	c := *n
	c.Anchor = ""
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, e := range n.Content {
		c.Content[i] = copyNode(e)
	}
	return &c
}

// topMapping returns the mapping at the root of a document.
func topMapping(root *yaml.Node) *yaml.Node {
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	return root
}

// splitMultinode returns the sub-job definitions in role order then count.
func splitMultinode(root *yaml.Node, job *jobdef.Job, targetGroup string) ([]subJob, error) {
	top := topMapping(root)
	mn := mapGet(mapGet(top, "protocols"), "lava-multinode")
	roles := mapGet(mn, "roles")
	if roles == nil || roles.Kind != yaml.MappingNode {
		return nil, badSubmission("Unable to split multinode job submission.")
	}
	var order []string
	groupSize := 0
	for i := 0; i+1 < len(roles.Content); i += 2 {
		name := roles.Content[i].Value
		if !contains(order, name) {
			order = append(order, name)
			groupSize += job.MultiNode.Roles[name].Count
		}
	}
	actions, err := splitActions(mapGet(top, "actions"), order)
	if err != nil {
		return nil, err
	}
	var out []subJob
	subID := 0
	for roleIdx, role := range order {
		value := mapGet(roles, role)
		acts, ok := actions[role]
		if !ok {
			return nil, badSubmission("No action for the role '%s'.", role)
		}
		if host := mapGet(value, "host_role"); host != nil {
			if c := job.MultiNode.Roles[host.Value].Count; c != 1 {
				return nil, badSubmission("The count for a role designated as a host_role must be 1.")
			}
		}
		for n := 0; n < job.MultiNode.Roles[role].Count; n++ {
			doc := roleDocument(top, mn, value, acts, role, targetGroup, groupSize, roleIdx)
			mapSet(mapGet(mapGet(doc, "protocols"), "lava-multinode"), "sub_id", intScalar(subID))
			text, err := encodeYAML(doc)
			if err != nil {
				return nil, fmt.Errorf("dump sub-job %s.%d: %w", role, n, err)
			}
			out = append(out, subJob{role: role, subID: subID, definition: text})
			subID++
		}
	}
	return out, nil
}

// splitActions keeps, per role, the actions naming it, with role set to it.
func splitActions(actions *yaml.Node, roles []string) (map[string][]*yaml.Node, error) {
	out := map[string][]*yaml.Node{}
	if actions == nil || actions.Kind != yaml.SequenceNode {
		return out, nil
	}
	for _, role := range roles {
		for _, a := range actions.Content {
			if a.Kind != yaml.MappingNode || len(a.Content) < 2 {
				continue
			}
			for i := 0; i+1 < len(a.Content); i += 2 {
				key, value := a.Content[i].Value, a.Content[i+1]
				r := mapGet(value, "role")
				if r == nil {
					return nil, badSubmission("Invalid YAML - Did not find a role in action '%s', check for consistent use of whitespace indents.", key)
				}
				if !nodeHas(r, role) {
					continue
				}
				c := copyNode(value)
				mapSet(c, "role", strScalar(role))
				m := newMap()
				m.Content = append(m.Content, strScalar(key), c)
				out[role] = append(out[role], m)
			}
		}
	}
	return out, nil
}

// nodeHas reports whether a role list (or a single role) names role.
func nodeHas(n *yaml.Node, role string) bool {
	if n.Kind == yaml.ScalarNode {
		return n.Value == role
	}
	for _, e := range n.Content {
		if e.Kind == yaml.ScalarNode && e.Value == role {
			return true
		}
	}
	return false
}

// roleDocument builds one sub-job's document, keys in LAVA's order.
func roleDocument(top, mn, value *yaml.Node, acts []*yaml.Node, role, targetGroup string, groupSize, roleIdx int) *yaml.Node {
	doc := newMap()
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for _, a := range acts {
		seq.Content = append(seq.Content, copyNode(a))
	}
	mapSet(doc, "actions", seq)
	for _, k := range mnCopies {
		if v := mapGet(top, k); v != nil {
			mapSet(doc, k, copyNode(v))
		}
	}
	for _, k := range mnScheduling {
		if v := mapGet(value, k); v != nil {
			mapSet(doc, k, copyNode(v))
		}
	}
	params := newMap()
	mapSet(params, "target_group", strScalar(targetGroup))
	mapSet(params, "role", strScalar(role))
	mapSet(params, "group_size", intScalar(groupSize))
	mapSet(params, "sub_id", intScalar(roleIdx))
	for i := 0; i+1 < len(value.Content); i += 2 {
		k := value.Content[i].Value
		if k == "count" || contains(mnScheduling, k) {
			continue
		}
		mapSet(params, k, copyNode(value.Content[i+1]))
	}
	for i := 0; i+1 < len(mn.Content); i += 2 {
		k := mn.Content[i].Value
		if k != "role" && k != "roles" {
			mapSet(params, k, copyNode(mn.Content[i+1]))
		}
	}
	protocols := newMap()
	mapSet(protocols, "lava-multinode", params)
	if lxc := mapGet(mapGet(mapGet(top, "protocols"), "lava-lxc"), role); lxc != nil {
		mapSet(protocols, "lava-lxc", copyNode(lxc))
	}
	mapSet(doc, "protocols", protocols)
	return doc
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// encodeYAML dumps a node as a block document, indented by two spaces.
func encodeYAML(n *yaml.Node) (string, error) {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

// rootNode returns the parsed tree of a job, parsing definition when the
// parser did not keep it.
func rootNode(definition string, job *jobdef.Job) (*yaml.Node, error) {
	if job.Root != nil {
		return job.Root, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(definition), &n); err != nil {
		return nil, badSubmission("%v", err)
	}
	return &n, nil
}

func submitMultinode(ctx context.Context, tx pgx.Tx, realmID int64, submitter *User, definition string, job *jobdef.Job, groupIDs []int64) ([]*Job, error) {
	root, err := rootNode(definition, job)
	if err != nil {
		return nil, err
	}
	targetGroup := newUUID()
	subs, err := splitMultinode(root, job, targetGroup)
	if err != nil {
		return nil, err
	}
	infos := map[string]roleInfo{}
	var jobs []*Job
	for _, sj := range subs {
		info, ok := infos[sj.role]
		if !ok {
			if info, err = roleDevices(ctx, tx, realmID, job.MultiNode.Roles[sj.role]); err != nil {
				return nil, err
			}
			infos[sj.role] = info
		}
		j, err := insertJobRow(ctx, tx, realmID, submitter, &newJob{
			description: job.JobName, definition: sj.definition, original: sj.definition,
			multinodeDef: definition, deviceTypeID: info.dtID, priority: job.Priority,
			visibility: visibilityKind(job.Visibility), groupIDs: groupIDs, tagIDs: info.tagIDs,
			targetGroup: &targetGroup, role: sj.role,
		})
		if err != nil {
			return nil, err
		}
		if info.dtID != nil {
			j.RequestedDeviceType = &info.dtName
		}
		j.Tags = job.MultiNode.Roles[sj.role].Tags
		jobs = append(jobs, j)
	}
	for i, sj := range subs {
		jobs[i].SubID = fmt.Sprintf("%d.%d", jobs[0].ID, sj.subID)
		if _, err := tx.Exec(ctx, `UPDATE jobs SET sub_id = $2 WHERE id = $1`, jobs[i].ID, jobs[i].SubID); err != nil {
			return nil, fmt.Errorf("set sub_id of job %d: %w", jobs[i].ID, err)
		}
	}
	return jobs, nil
}

type roleInfo struct {
	dtID   *int64 // nil: none
	dtName string
	tagIDs []int64
}

// roleDevices checks that a role can run: its device type, tags and enough
// devices. A role without a device type (a dynamic connection to another
// role's device) needs none.
func roleDevices(ctx context.Context, tx pgx.Tx, realmID int64, r jobdef.Role) (roleInfo, error) {
	var info roleInfo
	if r.DeviceType == "" {
		return info, nil
	}
	dtID, dtName, err := lookupDeviceType(ctx, tx, realmID, r.DeviceType)
	if err != nil {
		return info, err
	}
	info.dtName = dtName
	if info.tagIDs, err = lookupTags(ctx, tx, realmID, r.Tags); err != nil {
		return info, err
	}
	if err := checkDevices(ctx, tx, realmID, dtID, dtName, info.tagIDs, r.Tags, r.Count); err != nil {
		return info, err
	}
	info.dtID = &dtID
	return info, nil
}
