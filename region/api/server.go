// Package api is the region's HTTP front: the MAAS API 2.0 subset, its describe/ document,
// and OAuth authentication, over the store.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/metrics"
	"maasgo/region/power"
	"maasgo/region/reparse"
	"maasgo/region/store"
)

// Server answers the region's HTTP requests.
type Server struct {
	store    *store.Store
	opts     Options
	handlers []*handler
	signals  lifecycle.Signals
	agent    *agentFiles
	nonces   *nonceCache
	// heavy bounds the downloads that compress or assemble large outputs at once.
	heavy chan struct{}
	// reparser derives inventories again from machines' hardware snapshots (op=reparse).
	reparser *reparse.Reparser
	// runtimes estimates scripts' runtimes (run estimates), remembering machine classes'.
	runtimes *lifecycle.Runtimes
}

// Options tune a Server. Zero values take defaults.
type Options struct {
	Log *slog.Logger
	// MaxBody bounds request bodies (default 128 MiB).
	MaxBody int64
	// MaxForm bounds urlencoded bodies and multipart fields, files apart (default 8 MiB).
	MaxForm int64
	// Now is the clock (tests set it).
	Now func() time.Time
	// Version is reported by version/.
	Version string
	// Power drives machines' power; nil means power.Default() (manual only).
	Power power.Drivers
	// AgentDir holds the agent binaries, maas-run-scripts-linux-<arch>.
	AgentDir string
	// IdleTimeout bounds how long a body read or a response write may make no progress
	// (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// MaxHeavyDownloads bounds the result downloads served at once (default: the CPU count).
	MaxHeavyDownloads int
	// Metrics, when set, records requests and signals and is served at /MAAS/metrics.
	Metrics *metrics.Region
	// MachineCA gives the authorities (PEM, "" for none) machines are told to check the
	// region's certificate against: the launcher, user data and preseeds carry it.
	MachineCA func() string
	// UI, when set, serves the web interface under /MAAS/r/ (it authenticates its own
	// callers); /MAAS/ then redirects browsers there.
	UI http.Handler
}

// New builds the server over an open store.
func New(st *store.Store, opts Options) *Server {
	s := &Server{store: st, opts: opts}
	s.handlers = s.routes()
	s.signals = lifecycle.Signals{Now: s.now}
	if s.opts.Power == nil {
		s.opts.Power = power.Default()
	}
	s.agent = newAgentFiles(opts.AgentDir, s.log)
	s.nonces = newNonceCache(st, s.log, s.now)
	n := opts.MaxHeavyDownloads
	if n <= 0 {
		n = runtime.NumCPU()
	}
	s.heavy = make(chan struct{}, n)
	s.reparser = &reparse.Reparser{Store: st, Log: s.log(), Now: s.now}
	s.runtimes = &lifecycle.Runtimes{}
	return s
}

// ReloadAgents opens and hashes the agent builds again, after an upgrade (SIGHUP).
func (s *Server) ReloadAgents() { s.agent.Reload() }

func (s *Server) log() *slog.Logger {
	if s.opts.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.opts.Log
}

func (s *Server) machineCA() string {
	if s.opts.MachineCA == nil {
		return ""
	}
	return s.opts.MachineCA()
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

func (s *Server) maxForm() int64 {
	if s.opts.MaxForm > 0 {
		return s.opts.MaxForm
	}
	return 8 << 20
}

// request is one API call being served.
type request struct {
	s      *Server
	r      *http.Request
	ctx    context.Context
	params *Params
	path   map[string]string
	action *action      // the action being served
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
// /MAAS/metadata//2012-03-01/, protocol.md §1). Every body read and response write is bounded
// in time: see deadlines.go.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	rc := http.NewResponseController(w)
	dw := &deadlineWriter{statusWriter: sw, rc: rc, idle: s.idleTimeout()}
	dw.extend()
	if hasBody(r) {
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, idle: s.idleTimeout(), end: start.Add(s.bodyTimeout())}
	}
	w = dw
	w.Header().Set("X-Content-Type-Options", "nosniff")
	path := cleanPath(r.URL.Path)
	r, ri := withInfo(w, r, routeOf(path))
	switch {
	case path == "/MAAS/api/2.0/describe/" || path == "/MAAS/api/2.0/describe":
		s.describe(w, r)
	case strings.HasPrefix(path, "/MAAS/api/2.0/"):
		s.serveAPI(w, r, path)
	case path == "/MAAS/metadata" || strings.HasPrefix(path, "/MAAS/metadata/"):
		s.serveMetadata(w, r, path)
	case path == "/MAAS/maas-run-scripts" || strings.HasPrefix(path, "/MAAS/maas-run-scripts/") ||
		strings.HasPrefix(path, "/MAAS/machine-resources/") || path == "/MAAS/machine-resources":
		s.serveAgent(w, r, path)
	case path == "/MAAS/metrics" && s.opts.Metrics != nil:
		s.opts.Metrics.Handler().ServeHTTP(w, r)
	case s.opts.UI != nil && (path == "/MAAS/r" || strings.HasPrefix(path, "/MAAS/r/")):
		s.opts.UI.ServeHTTP(w, r)
	case s.opts.UI != nil && (path == "/MAAS" || path == "/MAAS/" || path == "/") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		http.Redirect(w, r, "/MAAS/r/", http.StatusFound)
	case path == "/MAAS" || path == "/MAAS/" || path == "/":
		writeText(w, http.StatusOK, "MAAS region: API at /MAAS/api/2.0/, metadata at /MAAS/metadata/\n")
	default:
		writeText(w, http.StatusNotFound, "Not found: "+path)
	}
	s.logRequest(r, ri, sw.code, start)
}

// routeOf names a request's route from its path before a handler names it more precisely.
func routeOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/MAAS/api/2.0/describe"):
		return "describe"
	case strings.HasPrefix(path, "/MAAS/api/2.0/"):
		return "api"
	case strings.HasPrefix(path, "/MAAS/metadata"):
		return "metadata"
	case strings.HasPrefix(path, "/MAAS/maas-run-scripts"), strings.HasPrefix(path, "/MAAS/machine-resources"):
		return "agent"
	case path == "/MAAS/metrics":
		return "metrics"
	case path == "/MAAS/r" || strings.HasPrefix(path, "/MAAS/r/"):
		return "ui"
	case path == "/MAAS" || path == "/MAAS/" || path == "/":
		return "root"
	}
	return "not_found"
}

func cleanPath(p string) string {
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	return p
}

func (s *Server) describe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeText(w, http.StatusMethodNotAllowed, "describe/ answers GET and HEAD only")
		return
	}
	// The upstream CLI insists on exactly this content type, without a charset.
	writeJSON(w, http.StatusOK, s.description(externalBase(r)))
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, path string) {
	h, vals, pathOp := s.lookup(path)
	if h == nil {
		setRoute(r, "api.unknown")
		writeText(w, http.StatusNotFound, "Unknown API endpoint: "+path)
		return
	}
	setRoute(r, h.name)
	if id := vals["system_id"]; id != "" {
		setMachine(r, id)
	}
	p, err := parseQuery(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	req := &request{s: s, r: r, ctx: r.Context(), params: p, path: vals}
	// HEAD is answered as GET (net/http sends the headers alone).
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	// Who is calling is known from the headers (and the query) before the body is read;
	// only an urlencoded body that HMAC-SHA1 signs is read first, within the form limit.
	if err := s.authenticateRequest(req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.token == nil && !h.allowsAnonymous(method) {
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Authentication required: sign the request with an API key (OAuth 1.0, PLAINTEXT or HMAC-SHA1)."))
		return
	}
	op := p.Values.Get("op")
	if op == "" {
		op = pathOp
	}
	// When the query or the path names the action (or there is no body to name it), its
	// access is checked before the body is read.
	var a *action
	if op != "" || !hasBody(r) {
		a = h.find(method, op)
	}
	if a != nil {
		if err := checkAccess(req, a); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := p.readBody(r, s.limitsFor(req)); err != nil {
		s.writeBodyError(w, r, err)
		return
	}
	if op = p.Values.Get("op"); op == "" {
		op = pathOp
	}
	if a == nil || a.op != op {
		if a = h.find(method, op); a == nil {
			writeText(w, http.StatusBadRequest, "Unrecognised signature: method="+r.Method+" op="+op)
			return
		}
		if err := checkAccess(req, a); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	req.action = a
	setRoute(r, h.name+"."+a.name)
	v, err := a.fn(req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeValue(w, r, v)
}

// writeBodyError answers a body that could not be read: 413 past a limit, 400 otherwise.
func (s *Server) writeBodyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errBodyTooLarge) {
		s.writeError(w, r, err)
		return
	}
	writeText(w, http.StatusBadRequest, err.Error())
}

// limitsFor bounds the body of a request by who sent it: anonymous requests may send little.
func (s *Server) limitsFor(req *request) bodyLimits {
	if req.token == nil {
		return bodyLimits{body: anonymousBody, fields: anonymousBody}
	}
	return bodyLimits{body: s.maxBody(), fields: min(s.maxForm(), s.maxBody()), files: s.maxBody()}
}

// anonymousBody bounds what an unauthenticated request may send: enough for any anonymous
// call's parameters.
const anonymousBody = 64 << 10

// allowsAnonymous reports whether any of the handler's actions for method may be called
// without credentials.
func (h *handler) allowsAnonymous(method string) bool {
	for _, a := range h.actions {
		if a.method == method && a.access.anonymousOK() {
			return true
		}
	}
	return false
}

// checkAccess checks the action's access level against the authenticated caller.
func checkAccess(req *request, a *action) error {
	if a.access == anonymous || (a.access == adminOrEnlisting && req.token == nil) {
		return nil
	}
	if req.token == nil {
		return errorf(http.StatusUnauthorized, "Authentication required: sign the request with an API key (OAuth 1.0, PLAINTEXT or HMAC-SHA1).")
	}
	if req.user == nil {
		return forbidden("Machine tokens cannot use the API: they may only reach their own machine's metadata.")
	}
	if (a.access == authAdmin || a.access == adminOrEnlisting) && !req.user.IsAdmin {
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
