package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
)

type profilePage struct {
	Tokens   []store.Token
	NewToken string // shown once, right after creation
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	s.renderProfile(w, r, u, "")
}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, u *store.User, secret string) {
	toks, err := s.st.ListTokens(r.Context(), u.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, "profile.html", "Profile of "+u.Username, profilePage{Tokens: toks, NewToken: secret})
}

const maxTokenDescription = 200

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	desc := strings.TrimSpace(r.PostFormValue("description"))
	if len(desc) > maxTokenDescription {
		s.badRequest(w, r, "the token description is limited to 200 characters")
		return
	}
	secret, _, err := s.st.CreateToken(r.Context(), u.ID, u.RealmID, desc)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The secret is rendered in this response only (never in a URL).
	s.renderProfile(w, r, u, secret)
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) {
	u, ok := s.requireUser(w, r)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.notFound(w, r, "token")
		return
	}
	if err := s.st.DeleteToken(r.Context(), u.ID, id); err != nil {
		s.storeError(w, r, "token", err)
		return
	}
	http.Redirect(w, r, "/accounts/profile/", http.StatusSeeOther)
}
