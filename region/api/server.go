// Package api is the region's HTTP front: the MAAS API 2.0 subset, its describe/ document,
// and OAuth authentication, over the store.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/power"
	"maasgo/region/store"
)

// Server answers the region's HTTP requests.
type Server struct {
	store    *store.Store
	opts     Options
	handlers []*handler
	signals  lifecycle.Signals
	agent    *agentFiles
}

// Options tune a Server. Zero values take defaults.
type Options struct {
	Log *slog.Logger
	// MaxBody bounds request bodies (default 128 MiB).
	MaxBody int64
	// Now is the clock (tests set it).
	Now func() time.Time
	// Version is reported by version/.
	Version string
	// ResultStored, when set, is called for each script result a machine reports.
	ResultStored lifecycle.ResultHook
	// Power drives machines' power; nil means power.Default() (manual only).
	Power power.Drivers
	// AgentDir holds the agent binaries, maas-run-scripts-linux-<arch>.
	AgentDir string
}

// New builds the server over an open store.
func New(st *store.Store, opts Options) *Server {
	s := &Server{store: st, opts: opts}
	s.handlers = s.routes()
	s.signals = lifecycle.Signals{Now: s.now, Stored: opts.ResultStored}
	if s.opts.Power == nil {
		s.opts.Power = power.Default()
	}
	s.agent = &agentFiles{dir: opts.AgentDir}
	return s
}

func (s *Server) log() *slog.Logger {
	if s.opts.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.opts.Log
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) maxBody() int64 {
	if s.opts.MaxBody > 0 {
		return s.opts.MaxBody
	}
	return 128 << 20
}

// request is one API call being served.
type request struct {
	s      *Server
	r      *http.Request
	ctx    context.Context
	params *Params
	path   map[string]string
	user   *store.User  // the caller, nil when anonymous
	token  *store.Token // the token the call was signed with
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// ServeHTTP routes a request. Runs of slashes in the path count as one (maas-signal sends
// /MAAS/metadata//2012-03-01/, protocol.md §1).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	path := cleanPath(r.URL.Path)
	switch {
	case path == "/MAAS/api/2.0/describe/" || path == "/MAAS/api/2.0/describe":
		s.describe(sw, r)
	case strings.HasPrefix(path, "/MAAS/api/2.0/"):
		s.serveAPI(sw, r, path)
	case path == "/MAAS/metadata" || strings.HasPrefix(path, "/MAAS/metadata/"):
		s.serveMetadata(sw, r, path)
	case path == "/MAAS/maas-run-scripts" || strings.HasPrefix(path, "/MAAS/maas-run-scripts/") ||
		strings.HasPrefix(path, "/MAAS/machine-resources/") || path == "/MAAS/machine-resources":
		s.serveAgent(sw, r, path)
	case path == "/MAAS" || path == "/MAAS/" || path == "/":
		writeText(sw, http.StatusOK, "MAAS region: API at /MAAS/api/2.0/, metadata at /MAAS/metadata/\n")
	default:
		writeText(sw, http.StatusNotFound, "Not found: "+path)
	}
	s.log().Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "duration", time.Since(start))
}

func cleanPath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func (s *Server) describe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeText(w, http.StatusMethodNotAllowed, "describe/ answers GET only")
		return
	}
	// The upstream CLI insists on exactly this content type, without a charset.
	writeJSON(w, http.StatusOK, s.description(externalBase(r)))
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	h, vals, pathOp := s.lookup(path)
	if h == nil {
		writeText(w, http.StatusNotFound, "Unknown API endpoint: "+path)
		return
	}
	p, err := parseParams(r, s.maxBody(), false)
	if err != nil {
		if errors.Is(err, errBodyTooLarge) {
			s.writeError(w, r, err)
			return
		}
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	op := p.Values.Get("op")
	if op == "" {
		op = pathOp
	}
	a := h.find(r.Method, op)
	if a == nil {
		writeText(w, http.StatusBadRequest, "Unrecognised signature: method="+r.Method+" op="+op)
		return
	}
	req := &request{s: s, r: r, ctx: r.Context(), params: p, path: vals}
	if err := s.authorize(req, a); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := a.fn(req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeValue(w, v)
}

// authorize authenticates the request and checks the action's access level.
func (s *Server) authorize(req *request, a *action) error {
	tok, user, err := s.authenticate(req.r, req.params)
	if err != nil {
		return err
	}
	req.token, req.user = tok, user
	if a.access == anonymous {
		return nil
	}
	if tok == nil {
		return errorf(http.StatusUnauthorized, "Authentication required: sign the request with an API key (OAuth 1.0, PLAINTEXT or HMAC-SHA1).")
	}
	if user == nil {
		return forbidden("Machine tokens cannot use the API: they may only reach their own machine's metadata.")
	}
	if a.access == authAdmin && !user.IsAdmin {
		return forbidden("You do not have permission to %s: administrators only.", describeAction(a))
	}
	return nil
}

func describeAction(a *action) string {
	if a.op != "" {
		return "call op=" + a.op
	}
	return a.name
}
