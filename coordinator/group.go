package coordinator

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// rpcDelay is how many times sub_id .0 is told to wait once every bundle is
// in, as LAVA's legacy aggregate does while an XML-RPC call finishes.
const rpcDelay = 2

type clientEntry struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
}

type roleEntry struct {
	Role    string   `json:"role"`
	Clients []string `json:"clients"`
}

// waitEntry is LAVA's waits[messageID]: who has sent the ID, and the
// {sender: message} data handed to lava_wait_all.
type waitEntry struct {
	Senders []string `json:"senders"`
	Data    *Object  `json:"data"`
}

// group is the state of one MultiNode group. Field names follow LAVA's
// dictionary so the behaviour can be checked against it; the exported
// fields are what the state file holds.
type group struct {
	mu      sync.Mutex
	deleted bool // set under mu when clear_group removed the group

	Name     string                     `json:"name"`
	Count    int                        `json:"count"`
	Complete int                        `json:"complete"`
	RPCDelay int                        `json:"rpc_delay"`
	Clients  []clientEntry              `json:"clients"`
	Roles    []roleEntry                `json:"roles"`
	Syncs    map[string]map[string]bool `json:"syncs"`    // messageID -> client -> still pending
	Messages map[string]*Object         `json:"messages"` // client -> messageID -> value
	Waits    map[string]*waitEntry      `json:"waits"`    // messageID -> senders and data
	Bundles  *Object                    `json:"bundles"`  // client -> bundle
}

func newGroup(name string, count int) *group {
	return &group{
		Name: name, Count: count, RPCDelay: rpcDelay,
		Syncs: map[string]map[string]bool{}, Messages: map[string]*Object{},
		Waits: map[string]*waitEntry{}, Bundles: NewObject(),
	}
}

func (g *group) hasClient(name string) bool {
	return slices.ContainsFunc(g.Clients, func(c clientEntry) bool { return c.Name == name })
}

func (g *group) roleClients(role string) ([]string, bool) {
	for _, r := range g.Roles {
		if r.Role == role {
			return r.Clients, true
		}
	}
	return nil, false
}

// register adds the client and its role the first time it is seen.
func (g *group) register(client, hostname, role string) {
	g.Clients = append(g.Clients, clientEntry{Name: client, Hostname: hostname})
	for i := range g.Roles {
		if g.Roles[i].Role == role {
			g.Roles[i].Clients = append(g.Roles[i].Clients, client)
			return
		}
	}
	g.Roles = append(g.Roles, roleEntry{Role: role, Clients: []string{client}})
}

func response(r string) *Object { return NewObject().Set("response", r) }

func ack(message any) *Object { return response("ack").Set("message", message) }

var (
	replyAck  = func() *Object { return response("ack") }
	replyWait = func() *Object { return response("wait") }
	replyNack = func() *Object { return response("nack") }
)

// keyOf turns a JSON string or number into the text used as a dictionary key.
func keyOf(v any, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	}
	return "", false
}

// groupSize reads group_size, which Python passes through int().
func groupSize(req *Object) int {
	v, ok := req.Get("group_size")
	if !ok {
		return 0
	}
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case string:
		s = strings.TrimSpace(x)
	default:
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f > 1e9 {
			return 0
		}
		n = int(f)
	}
	return n
}

// message is LAVA's _getMessage: a missing or null message is {}.
func message(req *Object) any {
	v, ok := req.Get("message")
	if !ok || v == nil {
		return NewObject()
	}
	return v
}

// groupData answers group_data: wait until every client has registered.
func (g *group) groupData() *Object {
	if len(g.Clients) != g.Count {
		return replyWait()
	}
	roles := NewObject()
	for _, r := range g.Roles {
		for _, c := range r.Clients {
			roles.Set(c, r.Role)
		}
	}
	return response("group_data").Set("roles", roles)
}

// messageFor is LAVA's _sendMessage: the message stored for client under id.
func (g *group) messageFor(client, id string) *Object {
	m, ok := g.Messages[client].Get(id)
	if !ok {
		return replyNack()
	}
	return ack(cloneValue(m))
}

// waitData is LAVA's _sendWaitMessage.
func (g *group) waitData(client, id string) *Object {
	w, ok := g.Waits[id]
	if !ok || !slices.Contains(w.Senders, client) {
		return replyNack()
	}
	return ack(w.Data.Clone())
}

func (g *group) messagesOf(client string) *Object {
	m := g.Messages[client]
	if m == nil {
		m = NewObject()
		g.Messages[client] = m
	}
	return m
}

// send stores {client: message} for every registered client and in the
// wait-all table.
func (g *group) send(client, id string, msg any) *Object {
	hash := NewObject().Set(client, msg)
	update := func(c string) {
		m := g.messagesOf(c)
		cur, _ := m.Get(id)
		obj, ok := cur.(*Object)
		if !ok {
			// LAVA would crash updating a lava_sync string; start afresh.
			obj = NewObject()
			m.Set(id, obj)
		}
		obj.Update(hash.Clone())
	}
	update(client)
	for _, c := range g.Clients {
		update(c.Name)
	}
	w := g.Waits[id]
	if w == nil {
		w = &waitEntry{Data: NewObject()}
		g.Waits[id] = w
	}
	if !slices.Contains(w.Senders, client) {
		w.Senders = append(w.Senders, client)
	}
	w.Data.Update(hash)
	return replyAck()
}

// wait answers lava_wait: the message once anyone sent the ID.
func (g *group) wait(client, id string) *Object {
	if !g.Messages[client].Has(id) {
		return replyWait()
	}
	return g.messageFor(client, id)
}

// waitAll answers lava_wait_all, with LAVA's role rules.
func (g *group) waitAll(client, id string, req *Object) *Object {
	if waitRole, ok := keyOf(req.Get("waitrole")); ok {
		expected, known := g.roleClients(waitRole)
		if !known {
			// LAVA raises KeyError here; nobody of that role has
			// registered yet, so the honest answer is to wait.
			return replyWait()
		}
		first := ""
		if len(expected) > 0 {
			first = expected[0]
		}
		role, _ := keyOf(req.Get("role"))
		own, _ := g.roleClients(role)
		for _, c := range own {
			w, seen := g.Waits[id]
			if !seen {
				return replyWait()
			}
			if first != "" && slices.Contains(w.Senders, first) {
				return g.messageFor(client, id)
			}
			if !slices.Contains(w.Senders, c) {
				return replyWait()
			}
		}
		return g.waitData(client, id)
	}
	for _, c := range g.Clients {
		w, seen := g.Waits[id]
		if !seen {
			return replyNack()
		}
		if !slices.Contains(w.Senders, c.Name) {
			return replyWait()
		}
	}
	return g.waitData(client, id)
}

// sync answers lava_sync: wait until count clients reached the ID, then ack
// each poll; clear the ID once everyone picked the answer up.
func (g *group) sync(client, id string, req *Object) *Object {
	msg := message(req)
	if !truthy(msg) {
		msg, _ = req.Get("messageID")
	}
	syncs := g.Syncs[id]
	if syncs == nil {
		syncs = map[string]bool{}
		g.Syncs[id] = syncs
	}
	m := g.messagesOf(client)
	if !m.Has(id) {
		m.Set(id, NewObject())
	}
	if len(syncs) < g.Count {
		m.Set(id, msg)
		syncs[client] = true
		return replyWait()
	}
	m.Set(id, msg)
	reply := g.messageFor(client, id)
	syncs[client] = false
	for _, pending := range syncs {
		if pending {
			return reply
		}
	}
	clear(syncs)
	return reply
}

// aggregate is LAVA's legacy result bundle collection.
func (g *group) aggregate(client string, req *Object) *Object {
	bundle, ok := req.Get("bundle")
	if !ok {
		return replyNack()
	}
	subID, ok := req.Get("sub_id")
	s, isString := subID.(string)
	if !ok || !isString {
		return replyNack()
	}
	g.Bundles.Set(client, bundle)
	if !strings.HasSuffix(s, ".0") {
		return replyAck()
	}
	if g.Bundles.Len() < g.Count {
		g.RPCDelay = rpcDelay
		return replyWait()
	}
	if g.RPCDelay > 0 {
		g.RPCDelay--
		return replyWait()
	}
	g.RPCDelay = rpcDelay
	return ack(NewObject().Set("bundle", g.Bundles.Clone()))
}
