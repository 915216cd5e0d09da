package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"golava/server/store"
	"golava/server/xmlrpc"
)

// XML-RPC at /RPC2, as linaro_django_xmlrpc's handler and dispatcher:
// HTTP basic "user:token" auth, faults for errors, the method table of
// rpc_*.go files. Method names and argument orders are LAVA's.

// LAVAVersion is what system.version answers; lavacli picks its calls by it.
const LAVAVersion = "2023.01"

// rpcCall is one call's context.
type rpcCall struct {
	r    *http.Request
	user *store.User // nil: anonymous
}

// rpcArgs are the positional parameters of a call.
type rpcArgs []any

type rpcMethod struct {
	fn       func(c *rpcCall, a rpcArgs) (any, error)
	min, max int
	sig      []string // return type then argument types; nil answers "undef"
	help     string
}

// rpcMethods returns the method table (built once per server).
func (s *Server) rpcMethods() map[string]rpcMethod {
	m := map[string]rpcMethod{}
	s.rpcSystem(m)
	s.rpcJobs(m)
	s.rpcDevices(m)
	s.rpcDeviceTypes(m)
	s.rpcWorkers(m)
	s.rpcTagsAliases(m)
	s.rpcResults(m)
	s.rpcPerms(m)
	s.rpcLegacy(m)
	s.rpcDetails(m)
	s.rpcQueries(m)
	s.rpcRealms(m) // realms.* (rpc_realms.go)
	return m
}

// rpcAuthFailure answers as LAVA's handler does for a bad Authorization.
func rpcAuthFailure(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="XML-RPC Authentication token"`)
	}
	http.Error(w, msg, code)
}

// rpcUser resolves the Basic user:token header; ok false means answered.
func (s *Server) rpcUser(w http.ResponseWriter, r *http.Request) (*store.User, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, true
	}
	scheme, value, found := strings.Cut(h, " ")
	if !found {
		rpcAuthFailure(w, http.StatusBadRequest, "Invalid HTTP_AUTHORIZATION header")
		return nil, false
	}
	if scheme != "Basic" {
		rpcAuthFailure(w, http.StatusBadRequest, "Unsupported HTTP_AUTHORIZATION header, only Basic scheme is supported")
		return nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		rpcAuthFailure(w, http.StatusBadRequest, "Corrupted HTTP_AUTHORIZATION header, bad base64 encoding")
		return nil, false
	}
	name, secret, found := strings.Cut(string(raw), ":")
	if !found {
		rpcAuthFailure(w, http.StatusBadRequest, "Corrupted HTTP_AUTHORIZATION header, no user:pass")
		return nil, false
	}
	u, err := s.store.UserByTokenCached(r.Context(), secret)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && (u.Username != name || !u.IsActive):
		rpcAuthFailure(w, http.StatusUnauthorized, "Invalid token")
		return nil, false
	case err != nil:
		s.logger.ErrorContext(r.Context(), "rpc token lookup", "err", err)
		http.Error(w, "server error", http.StatusInternalServerError)
		return nil, false
	}
	return u, true
}

// rpcHandler serves POST /RPC2.
func (s *Server) rpcHandler() http.HandlerFunc {
	methods := s.rpcMethods()
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "XML-RPC endpoint: POST a methodCall", http.StatusMethodNotAllowed)
			return
		}
		user, ok := s.rpcUser(w, r)
		if !ok {
			return
		}
		// Shared permission helpers (perms.go) read the user from the context.
		r = r.WithContext(withUser(r.Context(), user))
		body, err := io.ReadAll(r.Body)
		if isTooLarge(err) {
			w.Header().Set("Connection", "close")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err != nil {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		var out bytes.Buffer
		result, ferr := s.rpcDispatch(methods, &rpcCall{r: r, user: user}, body)
		if ferr == nil {
			if err := xmlrpc.EncodeResponse(&out, result); err != nil {
				ferr = s.rpcInternal(r, "encode", err)
				out.Reset()
			}
		}
		if ferr != nil {
			_ = xmlrpc.EncodeFault(&out, ferr)
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
		_, _ = w.Write(out.Bytes())
	}
}

func (s *Server) rpcDispatch(methods map[string]rpcMethod, c *rpcCall, body []byte) (any, *xmlrpc.Fault) {
	name, params, err := xmlrpc.DecodeCall(body, xmlrpc.DefaultLimits)
	if err != nil {
		var f *xmlrpc.Fault
		errors.As(err, &f)
		return nil, f
	}
	return s.rpcInvoke(methods, c, name, params)
}

func (s *Server) rpcInvoke(methods map[string]rpcMethod, c *rpcCall, name string, params []any) (any, *xmlrpc.Fault) {
	m, ok := methods[name]
	if !ok {
		return nil, xmlrpc.Faultf(xmlrpc.CodeMethodNotFound, "No such method: %s", pyRepr(name))
	}
	if len(params) < m.min || len(params) > m.max {
		return nil, xmlrpc.Faultf(xmlrpc.CodeInvalidParams, "%s takes %s (%d given)", name, argCount(m.min, m.max), len(params))
	}
	v, err := m.fn(c, params)
	if err != nil {
		var f *xmlrpc.Fault
		if errors.As(err, &f) {
			return nil, f
		}
		return nil, s.rpcInternal(c.r, name, err)
	}
	return v, nil
}

func argCount(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("%d arguments", lo)
	}
	return fmt.Sprintf("from %d to %d arguments", lo, hi)
}

func (s *Server) rpcInternal(r *http.Request, method string, err error) *xmlrpc.Fault {
	s.logger.ErrorContext(r.Context(), "xml-rpc call failed", "method", method, "err", err)
	return xmlrpc.Faultf(xmlrpc.CodeInternalError, "Internal Server Error (contact server administrator for details): %v", err)
}

// fault is shorthand for an application fault.
func fault(code int, format string, args ...any) error { return xmlrpc.Faultf(code, format, args...) }

// authenticated is LAVA's _authenticate: a 401 fault for anonymous calls.
func (c *rpcCall) authenticated() error {
	if c.user == nil {
		return fault(401, "Authentication with user and token required for this API.")
	}
	return nil
}

// superuser is LAVA's check_perm for the admin permissions lavacli needs
// (add/change/delete on tags, aliases, workers, devices, device types):
// golava grants them to superusers.
func (c *rpcCall) superuser(perm string) error {
	if err := c.authenticated(); err != nil {
		return err
	}
	if !c.user.IsSuperuser {
		return fault(403, "User '%s' is missing permission %s .", c.user.Username, perm)
	}
	return nil
}

func (c *rpcCall) username() string {
	if c.user == nil {
		return "AnonymousUser"
	}
	return c.user.Username
}

// Argument readers: i is the position, name is for the fault message.

func (a rpcArgs) has(i int) bool { return i < len(a) && a[i] != nil }

func (a rpcArgs) str(i int, name string) (string, error) {
	if i >= len(a) {
		return "", fault(xmlrpc.CodeInvalidParams, "missing argument %s", name)
	}
	switch v := a[i].(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	}
	return "", fault(xmlrpc.CodeInvalidParams, "argument %s must be a string", name)
}

func (a rpcArgs) optStr(i int, name string) (*string, error) {
	if !a.has(i) {
		return nil, nil
	}
	v, err := a.str(i, name)
	return &v, err
}

// strOr is an optional string argument, def when absent.
func (a rpcArgs) strOr(i int, name, def string) (string, error) {
	if !a.has(i) {
		return def, nil
	}
	return a.str(i, name)
}

func (a rpcArgs) integer(i int, name string) (int64, error) {
	if i >= len(a) {
		return 0, fault(xmlrpc.CodeInvalidParams, "missing argument %s", name)
	}
	switch v := a[i].(type) {
	case int64:
		return v, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fault(xmlrpc.CodeInvalidParams, "argument %s must be an integer", name)
}

func (a rpcArgs) optInt(i int, name string, def int64) (int64, error) {
	if !a.has(i) {
		return def, nil
	}
	return a.integer(i, name)
}

// boolean reads Python truthiness of an optional argument.
func (a rpcArgs) boolean(i int, def bool) bool {
	if !a.has(i) {
		return def
	}
	switch v := a[i].(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case string:
		return v != ""
	}
	return true
}

func (a rpcArgs) optBool(i int) *bool {
	if !a.has(i) {
		return nil
	}
	v := a.boolean(i, false)
	return &v
}

// rpcTime is a datetime as xmlrpc.client sends it, or nil.
func rpcTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func (s *Server) rpcSystem(m map[string]rpcMethod) {
	m["system.listMethods"] = rpcMethod{min: 0, max: 0, sig: []string{"array"},
		help: "List the methods of this server.", fn: func(*rpcCall, rpcArgs) (any, error) {
			names := make([]string, 0, len(m))
			for n := range m {
				names = append(names, n)
			}
			sort.Strings(names)
			return names, nil
		}}
	m["system.methodSignature"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "string"},
		help: "Signature of a method: [return type, argument types...], or \"undef\".",
		fn: func(_ *rpcCall, a rpcArgs) (any, error) {
			name, err := a.str(0, "method_name")
			if err != nil {
				return nil, err
			}
			meth, ok := m[name]
			switch {
			case !ok:
				return "", nil
			case meth.sig == nil:
				return "undef", nil
			}
			return meth.sig, nil
		}}
	m["system.methodHelp"] = rpcMethod{min: 1, max: 1, sig: []string{"string", "string"},
		help: "Documentation of a method.", fn: func(_ *rpcCall, a rpcArgs) (any, error) {
			name, err := a.str(0, "method_name")
			if err != nil {
				return nil, err
			}
			return m[name].help, nil
		}}
	m["system.multicall"] = rpcMethod{min: 1, max: 1, sig: []string{"array", "array"},
		help: "Call several methods; each result is [value] or a fault struct.", fn: func(c *rpcCall, a rpcArgs) (any, error) {
			return s.multicall(m, c, a)
		}}
	m["system.getCapabilities"] = rpcMethod{min: 0, max: 0, sig: []string{"struct"},
		help: "Capabilities of this XML-RPC server.", fn: func(*rpcCall, rpcArgs) (any, error) {
			return map[string]any{
				"introspect":     map[string]any{"specUrl": "http://xmlrpc-c.sourceforge.net/xmlrpc-c/introspection.html", "specVersion": 1},
				"faults_interop": map[string]any{"specUrl": "http://xmlrpc-epi.sourceforge.net/specs/rfc.fault_codes.php", "specVersion": 20010516},
			}, nil
		}}
	m["system.version"] = rpcMethod{min: 0, max: 0, sig: []string{"string"},
		help: "The LAVA version this server implements.", fn: func(*rpcCall, rpcArgs) (any, error) { return LAVAVersion, nil }}
	m["system.api_version"] = rpcMethod{min: 0, max: 0, sig: []string{"int"},
		help: "The XML-RPC API version (2).", fn: func(*rpcCall, rpcArgs) (any, error) { return 2, nil }}
	m["system.whoami"] = rpcMethod{min: 0, max: 0, sig: []string{"string"},
		help: "The authenticated username, or nil.", fn: func(c *rpcCall, _ rpcArgs) (any, error) {
			if c.user == nil {
				return nil, nil
			}
			return c.user.Username, nil
		}}
	m["system.user_can_view_jobs"] = rpcMethod{min: 1, max: 2, sig: []string{"struct", "array", "string"},
		help: "Map of job id to whether the user (or, for a superuser, username) may view it.",
		fn:   s.rpcUserCanViewJobs}
}

func (s *Server) multicall(m map[string]rpcMethod, c *rpcCall, a rpcArgs) (any, error) {
	calls, ok := a[0].([]any)
	if !ok {
		return nil, fault(xmlrpc.CodeInvalidParams, "system.multicall expected a list of methods to call")
	}
	out := make([]any, 0, len(calls))
	for _, sub := range calls {
		st, ok := sub.(map[string]any)
		name, _ := st["methodName"].(string)
		params, okp := st["params"].([]any)
		if !ok || name == "" || !okp || name == "system.multicall" {
			out = append(out, xmlrpc.S("faultCode", xmlrpc.CodeInvalidParams, "faultString", "system.multicall expected struct with methodName and params"))
			continue
		}
		v, f := s.rpcInvoke(m, c, name, params)
		if f != nil {
			out = append(out, xmlrpc.S("faultCode", f.Code, "faultString", f.String))
			continue
		}
		out = append(out, []any{v})
	}
	return out, nil
}

// rpcRoutes mounts /RPC2 (and /RPC2/, which lavacli users also write).
func (s *Server) rpcRoutes(r chi.Router) {
	h := s.rpcHandler()
	r.Handle("/RPC2", h)
	r.Handle("/RPC2/", h)
}
