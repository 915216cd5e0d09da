package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

// Admin pages for users, groups and permissions: superusers only. Every
// change is a POST with an "action" field, and redirects back with a
// message on error.

func (s *Server) adminRoutes(r chi.Router) {
	r.Get("/admin/users/", s.adminUsers)
	r.Post("/admin/users/", s.adminUsersPost)
	r.Get("/admin/groups/", s.adminGroups)
	r.Post("/admin/groups/", s.adminGroupsPost)
	r.Get("/admin/permissions/", s.adminPerms)
	r.Post("/admin/permissions/", s.adminPermsPost)
}

type adminPage struct {
	Users       []store.User
	Groups      []store.GroupInfo
	Grants      []store.Grant
	Permissions []string
	Message     string
}

func (s *Server) adminLoad(w http.ResponseWriter, r *http.Request, page, title, msg string) {
	ctx := r.Context()
	p := adminPage{Message: msg, Permissions: []string{store.PermView, store.PermSubmit, store.PermChange}}
	var err error
	if p.Users, err = s.st.ListUsers(ctx); err == nil {
		if p.Groups, err = s.st.ListGroups(ctx); err == nil {
			p.Grants, err = s.st.ListGrants(ctx, s.realm(r))
		}
	}
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	if msg != "" {
		status = http.StatusUnprocessableEntity
	}
	s.renderStatus(w, r, status, page, title, p)
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); ok {
		s.adminLoad(w, r, "admin_users.html", "Users", "")
	}
}

func (s *Server) adminGroups(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); ok {
		s.adminLoad(w, r, "admin_groups.html", "Groups", "")
	}
}

func (s *Server) adminPerms(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); ok {
		s.adminLoad(w, r, "admin_permissions.html", "Permissions", "")
	}
}

// adminDone redirects on success and re-renders the page with the error
// otherwise; store errors of bad input are shown, others are 500s.
func (s *Server) adminDone(w http.ResponseWriter, r *http.Request, page, title string, err error) {
	if err == nil {
		http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
		return
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, errInput) ||
		errors.Is(err, store.ErrInvalidFilter) || strings.Contains(err.Error(), "invalid") {
		s.adminLoad(w, r, page, title, err.Error())
		return
	}
	s.serverError(w, r, err)
}

var errInput = errors.New("invalid input")

func flag(v string) *bool {
	switch v {
	case "on", "true", "yes":
		t := true
		return &t
	case "off", "false", "no":
		f := false
		return &f
	}
	return nil
}

func (s *Server) adminUsersPost(w http.ResponseWriter, r *http.Request) {
	me, ok := s.requireSuperuser(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	f := r.PostFormValue
	var err error
	switch f("action") {
	case "create":
		if f("password") == "" {
			err = fmt.Errorf("%w: a new user needs a password", errInput)
			break
		}
		_, err = s.st.CreateUser(ctx, store.NewUser{Username: strings.TrimSpace(f("username")), Email: strings.TrimSpace(f("email")),
			Password: f("password"), IsSuperuser: f("superuser") == "on", IsStaff: f("superuser") == "on"})
	case "set":
		name := f("username")
		su, active := flag(f("superuser")), flag(f("active"))
		if name == me.Username && ((su != nil && !*su) || (active != nil && !*active)) {
			err = fmt.Errorf("%w: you cannot remove your own administrator rights or account", errInput)
			break
		}
		err = s.st.UpdateUser(ctx, name, su, su, active)
	case "password":
		var u *store.User
		if u, err = s.st.UserByName(ctx, f("username")); err == nil {
			if f("password") == "" {
				err = fmt.Errorf("%w: empty password", errInput)
			} else {
				err = s.st.SetPassword(ctx, u.ID, f("password"))
			}
		}
	default:
		err = fmt.Errorf("%w: unknown action %q", errInput, f("action"))
	}
	s.adminDone(w, r, "admin_users.html", "Users", err)
}

func (s *Server) adminGroupsPost(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); !ok {
		return
	}
	ctx := r.Context()
	f := r.PostFormValue
	var err error
	switch f("action") {
	case "create":
		_, err = s.st.CreateGroupIn(ctx, s.realm(r), strings.TrimSpace(f("group")))
	case "delete":
		err = s.st.DeleteGroup(ctx, f("group"))
	case "add":
		err = s.st.AddUserToGroup(ctx, strings.TrimSpace(f("username")), f("group"))
	case "remove":
		err = s.st.RemoveUserFromGroup(ctx, f("username"), f("group"))
	default:
		err = fmt.Errorf("%w: unknown action %q", errInput, f("action"))
	}
	s.adminDone(w, r, "admin_groups.html", "Groups", err)
}

func (s *Server) adminPermsPost(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.requireSuperuser(w, r); !ok {
		return
	}
	f := r.PostFormValue
	g := store.Grant{Kind: f("kind"), Object: strings.TrimSpace(f("object")), Group: f("group"), Permission: f("permission")}
	var err error
	switch f("action") {
	case "grant":
		err = s.st.GrantPermission(r.Context(), s.realm(r), g)
	case "revoke":
		err = s.st.RevokePermission(r.Context(), s.realm(r), g)
	default:
		err = fmt.Errorf("%w: unknown action %q", errInput, f("action"))
	}
	s.adminDone(w, r, "admin_permissions.html", "Permissions", err)
}
