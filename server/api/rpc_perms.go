package api

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"golava/server/store"
	"golava/server/xmlrpc"
)

// The permission and account calls of LAVA's LavaSystemAPI
// (system.assign_perm_*, revoke_perm_*, set_user_groups, user_can_*) and
// master_config.

// lavaPerms maps LAVA's codenames to golava's permissions, per kind.
var lavaPerms = map[string]map[string]string{
	"device-type": {"view_devicetype": store.PermView, "submit_to_devicetype": store.PermSubmit, "change_devicetype": store.PermChange},
	"device":      {"view_device": store.PermView, "submit_to_device": store.PermSubmit, "change_device": store.PermChange},
}

func (s *Server) rpcPerms(m map[string]rpcMethod) {
	for _, kind := range []string{"device-type", "device"} {
		suffix := strings.ReplaceAll(kind, "-", "_")
		m["system.assign_perm_"+suffix] = rpcMethod{min: 3, max: 3, fn: s.rpcGrant(kind, true),
			help: "assign_perm_" + suffix + "(perm, name, group): grant a group a permission (" + permNames(kind) + ")."}
		m["system.revoke_perm_"+suffix] = rpcMethod{min: 3, max: 3, fn: s.rpcGrant(kind, false),
			help: "revoke_perm_" + suffix + "(perm, name, group): take a permission back."}
	}
	m["system.set_user_groups"] = rpcMethod{min: 2, max: 2, fn: s.rpcSetUserGroups,
		help: "set_user_groups(email, groups): make the user with that e-mail a member of exactly the existing groups listed (staff only)."}
	m["system.user_can_view_devices"] = rpcMethod{min: 1, max: 2, sig: []string{"struct", "array", "string"}, fn: s.rpcUserCanViewDevices,
		help: "user_can_view_devices(hostnames, username=None): {device_type: [{hostname: {visible, ...}}]}."}
	m["system.user_can_submit_to_types"] = rpcMethod{min: 1, max: 2, sig: []string{"struct", "array", "string"}, fn: s.rpcUserCanSubmit,
		help: "user_can_submit_to_types(device_types, username=None): {device_type: bool}."}
	m["system.user_can_view_bundles"] = rpcMethod{min: 1, max: 2, sig: []string{"boolean", "array", "string"},
		help: "Bundles no longer exist: false.", fn: func(*rpcCall, rpcArgs) (any, error) { return false, nil }}
	m["system.master_config"] = rpcMethod{min: 0, max: 0, sig: []string{"struct"},
		help: "EVENT_TOPIC, EVENT_SOCKET, EVENT_NOTIFICATION and LOG_SIZE_LIMIT of this server.",
		fn: func(c *rpcCall, _ rpcArgs) (any, error) {
			sock := s.eventSocket(c.r)
			return xmlrpc.S("EVENT_TOPIC", "org.lavasoftware", "EVENT_SOCKET", sock,
				"EVENT_NOTIFICATION", sock != "", "LOG_SIZE_LIMIT", 10), nil
		}}
}

func permNames(kind string) string {
	var out []string
	for k := range lavaPerms[kind] {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (s *Server) rpcGrant(kind string, grant bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		codename := "lava_scheduler_app.change_" + strings.ReplaceAll(kind, "-", "")
		if err := c.superuser(codename); err != nil {
			return nil, err
		}
		perm, err := a.str(0, "perm")
		if err != nil {
			return nil, err
		}
		name, ok := a[1].(string)
		if !ok {
			return nil, fault(400, "%s name must be a string", strings.ReplaceAll(kind, "-", "_"))
		}
		group, err := a.str(2, "group")
		if err != nil {
			return nil, err
		}
		p, ok := lavaPerms[kind][strings.TrimPrefix(perm, "lava_scheduler_app.")]
		if !ok {
			return nil, fault(400, "Invalid permission '%s': use one of %s", perm, permNames(kind))
		}
		g := store.Grant{Kind: kind, Object: name, Group: group, Permission: p}
		if grant {
			err = s.store.GrantPermission(c.r.Context(), realmOf(c.r), g)
		} else {
			err = s.store.RevokePermission(c.r.Context(), realmOf(c.r), g)
			if errors.Is(err, store.ErrNotFound) && !strings.Contains(err.Error(), "revoke") {
				return nil, fault(400, "%v", err)
			}
			if errors.Is(err, store.ErrNotFound) {
				err = nil // Django's remove_perm of an absent grant is silent
			}
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, fault(400, "please use an existing group name and %s name (%v)", kind, err)
		}
		return nil, err
	}
}

func (s *Server) rpcSetUserGroups(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	if !c.user.IsStaff && !c.user.IsSuperuser {
		return nil, fault(403, "forbidden")
	}
	email, err := a.str(0, "user")
	if err != nil {
		return nil, err
	}
	list, ok := a[1].([]any)
	if !ok {
		return nil, fault(400, "groups must be a list")
	}
	users, err := s.store.ListUsers(c.r.Context())
	if err != nil {
		return nil, err
	}
	var user *store.User
	for i := range users {
		if users[i].Email == email && email != "" {
			user = &users[i]
		}
	}
	if user == nil {
		return nil, fault(400, "please use an existing user")
	}
	groups, err := s.store.ListGroups(c.r.Context())
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, g := range list {
		want[fmt.Sprint(g)] = true
	}
	for _, g := range groups {
		in := false
		for _, m := range g.Members {
			in = in || m == user.Username
		}
		switch {
		case want[g.Name] && !in:
			err = s.store.AddUserToGroup(c.r.Context(), user.Username, g.Name)
		case !want[g.Name] && in:
			err = s.store.RemoveUserFromGroup(c.r.Context(), user.Username, g.Name)
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// switchUser is LAVA's _switch_user: a superuser may ask for another user.
func (s *Server) switchUser(c *rpcCall, a rpcArgs, i int) (*store.User, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	name, _ := a.optStr(i, "username")
	if name == nil || *name == "" {
		return c.user, nil
	}
	if !c.user.IsSuperuser {
		return nil, fault(401, "Permission denied for user '%s' to query other users", c.user.Username)
	}
	u, err := s.store.UserByName(c.r.Context(), *name)
	if err != nil {
		return nil, fault(404, "Username %s not found", *name)
	}
	return u, nil
}

func (s *Server) rpcUserCanViewDevices(c *rpcCall, a rpcArgs) (any, error) {
	user, err := s.switchUser(c, a, 1)
	if err != nil {
		return nil, err
	}
	list, ok := a[0].([]any)
	if !ok {
		return nil, fault(400, "device list argument must be a list")
	}
	out := map[string]any{}
	for _, h := range list {
		d, err := s.store.DeviceByName(c.r.Context(), realmOf(c.r), fmt.Sprint(h))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		visible, err := s.store.CanViewDevice(c.r.Context(), d, user)
		if err != nil {
			return nil, err
		}
		entry := map[string]any{"visible": visible}
		if visible {
			entry = map[string]any{"is_pipeline": true, "visible": true, "exclusive": true}
		}
		prev, _ := out[d.DeviceType].([]any)
		out[d.DeviceType] = append(prev, map[string]any{d.Hostname: entry})
	}
	return out, nil
}

func (s *Server) rpcUserCanSubmit(c *rpcCall, a rpcArgs) (any, error) {
	user, err := s.switchUser(c, a, 1)
	if err != nil {
		return nil, err
	}
	list, ok := a[0].([]any)
	if !ok {
		return nil, fault(400, "type list argument must be a list")
	}
	out := map[string]any{}
	for _, n := range list {
		name := fmt.Sprint(n)
		if _, err := s.store.DeviceTypeByName(c.r.Context(), realmOf(c.r), name); err != nil {
			continue
		}
		ok, err := s.store.CanSubmitToDeviceType(c.r.Context(), realmOf(c.r), name, user)
		if err != nil {
			return nil, err
		}
		out[name] = ok
	}
	return out, nil
}
