package api

import (
	"errors"
	"strings"

	"golava/server/artifacts"
	"golava/server/secrets"
	"golava/server/store"
	"golava/server/xmlrpc"
)

// realms.* over XML-RPC: LAVA has no calls for realms, secrets, artifacts
// or webhooks, so these are golava's own, with the REST routes' rules (a
// realm one may not use is a 404 fault; no call returns a secret value).

func (s *Server) rpcRealms(m map[string]rpcMethod) {
	m["realms.list"] = rpcMethod{min: 0, max: 0, sig: []string{"array"}, fn: s.rpcRealmsList,
		help: "list(): the realms the caller may use, as {name, description, payload_days, temp_days}."}
	m["realms.show"] = rpcMethod{min: 1, max: 1, sig: []string{"struct", "string"}, fn: s.rpcRealmsShow,
		help: "show(realm): one realm."}
	m["realms.add"] = rpcMethod{min: 1, max: 2, sig: []string{"string", "string", "string"}, fn: s.rpcRealmsAdd,
		help: "add(name, description=''): create a realm (superusers)."}
	m["realms.members.list"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcRealmMembers,
		help: "members.list(realm): usernames of the realm's members."}
	m["realms.members.add"] = rpcMethod{min: 2, max: 2, fn: s.rpcRealmMember(true),
		help: "members.add(realm, username): let the user act in the realm (superusers)."}
	m["realms.members.remove"] = rpcMethod{min: 2, max: 2, fn: s.rpcRealmMember(false),
		help: "members.remove(realm, username): end the membership and its tokens (superusers)."}
	m["realms.secrets.list"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcSecretsList,
		help: "secrets.list(realm): {name, path, created, updated} of each secret; never a value."}
	m["realms.secrets.set"] = rpcMethod{min: 3, max: 3, fn: s.rpcSecretsSet,
		help: "secrets.set(realm, name, value): create or replace a secret; returns its path (/lava/REALM/NAME)."}
	m["realms.secrets.delete"] = rpcMethod{min: 2, max: 2, fn: s.rpcSecretsDelete,
		help: "secrets.delete(realm, name): remove a secret."}
	m["realms.artifacts.list"] = rpcMethod{min: 2, max: 3, sig: []string{"array", "string", "string", "string"}, fn: s.rpcArtifactsList,
		help: "artifacts.list(realm, area, prefix=''): {path, size, sha256, job, created, expires} of the area's artifacts (payload or temp), first 1000."}
	m["realms.artifacts.delete"] = rpcMethod{min: 3, max: 3, fn: s.rpcArtifactsDelete,
		help: "artifacts.delete(realm, area, path): remove an artifact (its uploader or a superuser)."}
	m["realms.webhooks.list"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"}, fn: s.rpcWebhooksList,
		help: "webhooks.list(realm): {id, url, signed, pending, sent, failed} of each webhook."}
	m["realms.webhooks.add"] = rpcMethod{min: 2, max: 3, fn: s.rpcWebhooksAdd,
		help: "webhooks.add(realm, url, secret=''): POST the realm's notices to url (superusers); returns its id."}
	m["realms.webhooks.delete"] = rpcMethod{min: 2, max: 2, fn: s.rpcWebhooksDelete,
		help: "webhooks.delete(realm, id): stop a webhook (superusers)."}
}

// rpcRealm resolves argument i as a realm the caller may use.
func (s *Server) rpcRealm(c *rpcCall, a rpcArgs, i int) (*store.Realm, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	name, err := a.str(i, "realm")
	if err != nil {
		return nil, err
	}
	realm, err := s.store.RealmByName(c.r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Realm '%s' was not found.", name)
	}
	if err != nil {
		return nil, err
	}
	ok, err := s.store.CanUseRealm(c.r.Context(), realm.ID, c.user)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault(404, "Realm '%s' was not found.", name)
	}
	return realm, nil
}

// rpcRealmAdmin is rpcRealm for calls only superusers may make (perm
// names the call in the refusal).
func (s *Server) rpcRealmAdmin(c *rpcCall, a rpcArgs, perm string) (*store.Realm, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	if err := c.superuser(perm); err != nil {
		return nil, err
	}
	return realm, nil
}

func rpcRealmStruct(r *store.Realm) xmlrpc.Struct {
	return xmlrpc.S("name", r.Name, "description", r.Description, "created", r.CreatedAt.UTC(),
		"payload_days", int64(r.PayloadDays), "temp_days", int64(r.TempDays))
}

func (s *Server) rpcRealmsList(c *rpcCall, _ rpcArgs) (any, error) {
	if err := c.authenticated(); err != nil {
		return nil, err
	}
	realms, err := s.store.ListRealms(c.r.Context(), c.user)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(realms))
	for i, r := range realms {
		out[i] = rpcRealmStruct(r)
	}
	return out, nil
}

func (s *Server) rpcRealmsShow(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	return rpcRealmStruct(realm), nil
}

func (s *Server) rpcRealmsAdd(c *rpcCall, a rpcArgs) (any, error) {
	if err := c.superuser("realms.add"); err != nil {
		return nil, err
	}
	name, err := a.str(0, "name")
	if err != nil {
		return nil, err
	}
	d, err := a.strOr(1, "description", "")
	if err != nil {
		return nil, err
	}
	realm, err := s.store.CreateRealm(c.r.Context(), name, d)
	switch {
	case errors.Is(err, store.ErrInvalid):
		return nil, fault(400, "%s", strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error()))
	case errors.Is(err, store.ErrConflict):
		return nil, fault(400, "Realm '%s' already exists.", name)
	case err != nil:
		return nil, err
	}
	return realm.Name, nil
}

func (s *Server) rpcRealmMembers(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	names, err := s.store.RealmMembers(c.r.Context(), realm.ID)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out, nil
}

func (s *Server) rpcRealmMember(add bool) func(c *rpcCall, a rpcArgs) (any, error) {
	return func(c *rpcCall, a rpcArgs) (any, error) {
		realm, err := s.rpcRealmAdmin(c, a, "realms.members")
		if err != nil {
			return nil, err
		}
		name, err := a.str(1, "username")
		if err != nil {
			return nil, err
		}
		u, err := s.store.UserByName(c.r.Context(), name)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fault(404, "User '%s' was not found.", name)
		}
		if err != nil {
			return nil, err
		}
		if add {
			err = s.store.AddRealmMember(c.r.Context(), realm.ID, u.ID)
		} else if err = s.store.RemoveRealmMember(c.r.Context(), realm.ID, u.ID); errors.Is(err, store.ErrNotFound) {
			return nil, fault(404, "User '%s' is not a member of realm '%s'.", name, realm.Name)
		}
		return nil, err
	}
}

func (s *Server) rpcSecretsList(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	infos, err := s.store.SecretInfos(c.r.Context(), realm.ID)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(infos))
	for i, info := range infos {
		out[i] = xmlrpc.S("name", info.Name, "path", secrets.Path{Realm: realm.Name, Name: info.Name}.String(),
			"created", info.CreatedAt.UTC(), "updated", info.UpdatedAt.UTC())
	}
	return out, nil
}

func (s *Server) rpcSecretsSet(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	name, err := a.str(1, "name")
	if err != nil {
		return nil, err
	}
	value, err := a.str(2, "value")
	if err != nil {
		return nil, err
	}
	switch {
	case secrets.ValidName(name) != nil:
		return nil, fault(400, "%v", secrets.ValidName(name))
	case value == "":
		return nil, fault(400, "the value is empty")
	case len(value) > secrets.MaxValueBytes:
		return nil, fault(400, "the value is %d bytes, more than the %d allowed", len(value), secrets.MaxValueBytes)
	case s.cfg.Secrets == nil:
		return nil, fault(503, "This server has no master key for secrets (lava-server serve --master-key-file).")
	}
	path := secrets.Path{Realm: realm.Name, Name: name}.String()
	if err := s.cfg.Secrets.Put(c.r.Context(), path, []byte(value)); err != nil {
		return nil, err // names the path, never the value
	}
	s.logger.InfoContext(c.r.Context(), "secret set", "path", path, "user", c.user.Username)
	return path, nil
}

func (s *Server) rpcSecretsDelete(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	name, err := a.str(1, "name")
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteSecret(c.r.Context(), realm.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Secret '%s' was not found.", name)
	}
	return nil, err
}

// rpcArtifactArea checks the realm, the area and that storage exists.
func (s *Server) rpcArtifactArea(c *rpcCall, a rpcArgs) (*store.Realm, string, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, "", err
	}
	area, err := a.str(1, "area")
	if err != nil {
		return nil, "", err
	}
	if area != "payload" && area != "temp" {
		return nil, "", fault(400, "area '%s': use payload or temp", area)
	}
	if s.cfg.Artifacts == nil {
		return nil, "", fault(503, "artifact storage is not configured")
	}
	return realm, area, nil
}

func (s *Server) rpcArtifactsList(c *rpcCall, a rpcArgs) (any, error) {
	realm, area, err := s.rpcArtifactArea(c, a)
	if err != nil {
		return nil, err
	}
	p, err := a.strOr(2, "prefix", "")
	if err != nil {
		return nil, err
	}
	list, _, err := s.cfg.Artifacts.List(c.r.Context(), realm.ID, area, p, 0, MaxPageSize)
	if err != nil {
		return nil, rpcArtifactError(err)
	}
	out := make([]any, len(list))
	for i, art := range list {
		var job, expires any
		if art.JobID != nil {
			job = *art.JobID
		}
		if art.ExpiresAt != nil {
			expires = art.ExpiresAt.UTC()
		}
		out[i] = xmlrpc.S("path", art.Path, "size", art.Size, "sha256", art.SHA256, "job", job,
			"created", art.CreatedAt.UTC(), "expires", expires)
	}
	return out, nil
}

func (s *Server) rpcArtifactsDelete(c *rpcCall, a rpcArgs) (any, error) {
	realm, area, err := s.rpcArtifactArea(c, a)
	if err != nil {
		return nil, err
	}
	path, err := a.str(2, "path")
	if err != nil {
		return nil, err
	}
	art, err := s.store.Artifact(c.r.Context(), realm.ID, area, path)
	if err != nil {
		return nil, rpcArtifactError(err)
	}
	if !mayDeleteArtifact(c.user, art) {
		return nil, fault(403, "Only the uploader or a superuser may delete '%s'.", path)
	}
	return nil, rpcArtifactError(s.cfg.Artifacts.Delete(c.r.Context(), art))
}

func rpcArtifactError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound), errors.Is(err, artifacts.ErrNotFound):
		return fault(404, "Artifact was not found.")
	case errors.Is(err, artifacts.ErrInvalidPath):
		return fault(400, "%v", err)
	}
	return err
}

func (s *Server) rpcWebhooksList(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealm(c, a, 0)
	if err != nil {
		return nil, err
	}
	hooks, err := s.store.ListWebhooks(c.r.Context(), realm.ID)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(hooks))
	for i, h := range hooks {
		out[i] = xmlrpc.S("id", h.ID, "url", h.URL, "signed", h.Secret != "", "created", h.CreatedAt.UTC(),
			"pending", h.Pending, "sent", h.Sent, "failed", h.Failed)
	}
	return out, nil
}

func (s *Server) rpcWebhooksAdd(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealmAdmin(c, a, "realms.webhooks")
	if err != nil {
		return nil, err
	}
	url, err := a.str(1, "url")
	if err != nil {
		return nil, err
	}
	sec, err := a.strOr(2, "secret", "")
	if err != nil {
		return nil, err
	}
	h, err := s.store.CreateWebhook(c.r.Context(), realm.ID, url, sec)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, fault(400, "Webhook '%s' already exists in realm '%s'.", url, realm.Name)
	case errors.Is(err, store.ErrInvalid):
		return nil, fault(400, "%v", err)
	case err != nil:
		return nil, err
	}
	return h.ID, nil
}

func (s *Server) rpcWebhooksDelete(c *rpcCall, a rpcArgs) (any, error) {
	realm, err := s.rpcRealmAdmin(c, a, "realms.webhooks")
	if err != nil {
		return nil, err
	}
	id, err := a.integer(1, "id")
	if err != nil {
		return nil, err
	}
	err = s.store.DeleteWebhook(c.r.Context(), realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault(404, "Webhook %d was not found.", id)
	}
	return nil, err
}
