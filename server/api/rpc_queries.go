package api

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"golava/server/store"
)

// results.*query* (golava stores no result queries, so every named query
// is missing, as in a LAVA without any) and system.pipeline_network_map.

func (s *Server) rpcQueries(m map[string]rpcMethod) {
	m["results.run_query"] = rpcMethod{min: 1, max: 3, sig: []string{"array", "string", "int", "string"}, fn: s.rpcNoQuery(404),
		help: "run_query(query_name, limit=200, username=None): golava has no stored queries; always a 404 fault."}
	m["results.refresh_query"] = rpcMethod{min: 1, max: 2, fn: s.rpcNoQuery(400),
		help: "refresh_query(query_name, username=None): golava has no stored queries; always a 400 fault."}
	m["results.refresh_all_queries"] = rpcMethod{min: 0, max: 0, help: "Nothing to refresh (superusers only).",
		fn: func(c *rpcCall, _ rpcArgs) (any, error) {
			if err := c.authenticated(); err != nil {
				return nil, err
			}
			if !c.user.IsSuperuser {
				return nil, fault(401, "Permission denied for user %s. Must be a superuser to refresh all queries.", c.user.Username)
			}
			return nil, nil
		}}
	m["system.pipeline_network_map"] = rpcMethod{min: 0, max: 1, sig: []string{"string", "string"}, fn: s.rpcNetworkMap,
		help: "pipeline_network_map(switch=None): YAML of the switch ports of the visible devices' interfaces."}
}

func (s *Server) rpcNoQuery(code int) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		if err := c.authenticated(); err != nil {
			return nil, err
		}
		name, err := a.str(0, "query_name")
		if err != nil {
			return nil, err
		}
		owner := c.user.Username
		if u, _ := a.optStr(len(a)-1, "username"); u != nil && len(a) > 1 && *u != "" {
			owner = *u
		}
		return nil, fault(code, "Query with name %s owned by user %s does not exist.", name, owner)
	}
}

func (s *Server) rpcNetworkMap(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	ds, err := s.visibleDevices(c, true)
	if err != nil {
		return nil, err
	}
	switches := map[string]any{}
	for _, d := range ds {
		if d.Dictionary == "" {
			continue
		}
		out, err := s.renderDevice(&store.WorkerJob{DeviceDictionary: d.Dictionary, DeviceType: d.DeviceType}, nil)
		if err != nil {
			continue
		}
		var p struct {
			Interfaces []string                  `yaml:"interfaces"`
			Map        map[string]map[string]any `yaml:"map"`
			MAC        map[string]any            `yaml:"mac_addr"`
			Sysfs      map[string]any            `yaml:"sysfs"`
		}
		if yaml.Unmarshal([]byte(out), &p) != nil {
			continue
		}
		for _, iface := range p.Interfaces {
			for sw, port := range p.Map[iface] {
				list, _ := switches[sw].([]any)
				switches[sw] = append(list, map[string]any{"port": port, "device": map[string]any{
					"interface": iface, "mac": p.MAC[iface], "sysfs": p.Sysfs[iface], "hostname": d.Hostname}})
			}
		}
	}
	var doc any = map[string]any{"switches": switches}
	if sw, _ := a.optStr(0, "switch"); sw != nil && *sw != "" {
		v, ok := switches[*sw]
		if !ok {
			return nil, fault(404, "No switch '%s' was found in the network map of supported devices.", *sw)
		}
		doc = v
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("network map: %w", err)
	}
	return string(b), nil
}
