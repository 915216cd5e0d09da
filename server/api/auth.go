package api

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"golava/server/store"
)

// authFailure is a 401 with DRF's wording; the WWW-Authenticate header
// tells clients the Token scheme, as DRF's TokenAuthentication does.
func authFailure(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Token`)
	restError(w, http.StatusUnauthorized, detail)
}

// authenticate resolves the API token of a request into its user:
// "Authorization: Token T" (LAVA and DRF), "Bearer T", or HTTP basic
// "user:T" as lavacli sends to /RPC2. No credentials means anonymous (the
// handler decides); wrong credentials are a 401 at once.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, username, detail := credentials(r.Header.Get("Authorization"))
		if detail != "" {
			authFailure(w, detail)
			return
		}
		if secret == "" {
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), nil)))
			return
		}
		u, err := s.store.UserByTokenCached(r.Context(), secret)
		switch {
		case errors.Is(err, store.ErrNotFound):
			authFailure(w, "Invalid token.")
			return
		case err != nil:
			s.logger.ErrorContext(r.Context(), "token lookup", "err", err)
			restError(w, http.StatusInternalServerError, "A server error occurred.")
			return
		case username != "" && username != u.Username:
			authFailure(w, "Invalid token.")
			return
		case !u.IsActive:
			authFailure(w, "User inactive or deleted.")
			return
		}
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), u)))
	})
}

// credentials parses an Authorization header into a token secret and, for
// basic auth, the username it must belong to. detail is DRF's message for a
// malformed header. Unknown schemes are ignored (anonymous), as DRF does.
func credentials(header string) (secret, username, detail string) {
	parts := strings.Fields(header)
	if len(parts) == 0 {
		return "", "", ""
	}
	switch strings.ToLower(parts[0]) {
	case "token", "bearer":
		switch len(parts) {
		case 1:
			return "", "", "Invalid token header. No credentials provided."
		case 2:
			return parts[1], "", ""
		default:
			return "", "", "Invalid token header. Token string should not contain spaces."
		}
	case "basic":
		if len(parts) != 2 {
			return "", "", "Invalid basic header. Credentials string should not contain spaces."
		}
		raw, err := base64.StdEncoding.DecodeString(parts[1])
		if err != nil {
			return "", "", "Invalid basic header. Credentials not correctly base64 encoded."
		}
		user, tok, ok := strings.Cut(string(raw), ":")
		if !ok || user == "" || tok == "" {
			return "", "", "Invalid basic header. Credentials not correctly base64 encoded."
		}
		return tok, user, ""
	}
	return "", "", ""
}

// requireUser returns the authenticated user, or answers 403 with DRF's
// message for anonymous requests and returns false.
func requireUser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u := userFrom(r)
	if u == nil {
		restError(w, http.StatusForbidden, "Authentication credentials were not provided.")
		return nil, false
	}
	return u, true
}

// requireSuperuser is requireUser for admin-only actions; a plain user gets
// DRF's permission message.
func requireSuperuser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	u, ok := requireUser(w, r)
	if !ok {
		return nil, false
	}
	if !u.IsSuperuser {
		restError(w, http.StatusForbidden, "You do not have permission to perform this action.")
		return nil, false
	}
	return u, true
}
