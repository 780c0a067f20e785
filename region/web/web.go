// Package web is the region's web interface under /MAAS/r/: server-rendered pages
// (html/template, with the CSS and the one small script embedded) for logging in with a
// password, the machines list and its bulk actions, a machine's hardware, results, output,
// timeline and events (updated live while it works), the script library and a few settings.
//
// Every route states who may call it (routes.go); a session cookie authenticates the caller
// from the request's headers before any body is read; every POST carries the session's CSRF
// token and, when the browser sends one, a same-origin Origin; bodies and request times are
// bounded.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
)

// Options tune a Handler. Zero values take defaults.
type Options struct {
	Log *slog.Logger
	// Now is the clock (tests set it).
	Now func() time.Time
	// SessionTTL is how long a login lasts (default 12 hours).
	SessionTTL time.Duration
	// RequestTimeout bounds the work of one request (default 30 s).
	RequestTimeout time.Duration
	// MaxScriptUpload bounds an uploaded script, in bytes (default 2 MiB).
	MaxScriptUpload int64
	// FailedLoginDelay is how long a failed login waits before it answers (default 300 ms).
	FailedLoginDelay time.Duration
}

// Handler serves the web interface.
type Handler struct {
	st     *store.Store
	opts   Options
	mux    *http.ServeMux
	routes []route
	pages  pages
	logins *loginLimiter
	// hashing bounds the password checks run at once: each holds ~20 MiB for tens of ms.
	hashing chan struct{}
	// runtimes estimates when runs end (lifecycle.Runtimes).
	runtimes *lifecycle.Runtimes
}

// New builds the web interface over an open store.
func New(st *store.Store, opts Options) *Handler {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.MaxScriptUpload <= 0 {
		opts.MaxScriptUpload = 2 << 20
	}
	if opts.FailedLoginDelay == 0 {
		opts.FailedLoginDelay = 300 * time.Millisecond
	}
	h := &Handler{st: st, opts: opts, mux: http.NewServeMux(), pages: mustParsePages(),
		hashing: make(chan struct{}, 2), runtimes: &lifecycle.Runtimes{}}
	h.logins = newLoginLimiter(h.now)
	h.routes = h.table()
	for _, rt := range h.routes {
		h.mux.Handle(rt.method+" "+rt.path, h.wrap(rt))
	}
	return h
}

func (h *Handler) now() time.Time {
	if h.opts.Now != nil {
		return h.opts.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.opts.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.opts.Log
}

// ServeHTTP serves one request under /MAAS/r/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Nothing inline runs or styles the pages: scripts and styles come from /MAAS/r/static/.
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.URL.Path == "/MAAS/r" {
		http.Redirect(w, r, "/MAAS/r/", http.StatusFound)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// page is one request being served: the caller (nil when anonymous) and their session.
type page struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	ctx  context.Context
	user *store.User
	sess *store.Session
}

// access says who may call a route.
type access int

const (
	anyone    access = iota // no session needed
	userOnly                // any logged-in user
	adminOnly               // a logged-in administrator
)

func (a access) String() string { return [...]string{"anyone", "user", "admin"}[a] }

// route is one page or action of the interface.
type route struct {
	method string // GET or POST
	path   string // a net/http pattern, e.g. /MAAS/r/machines/{system_id}
	access access
	// body bounds a POST's body, in bytes (default formLimit).
	body int64
	// ownCSRF: the route checks its own CSRF token (the login form, before any session).
	ownCSRF bool
	// noSession: the route serves the same to everyone and skips reading the session.
	noSession bool
	fn        func(*page) error
}

// formLimit bounds the body of an ordinary form.
const formLimit = 64 << 10

// wrap authenticates the caller from the session cookie, checks the route's access, and for
// a POST checks the origin, bounds and reads the body, and checks the CSRF token, all before
// the route runs.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &page{h: h, w: w, r: r, ctx: r.Context()}
		if !rt.noSession {
			if err := h.authenticate(p); err != nil {
				h.fail(p, err)
				return
			}
		}
		if err := rt.allows(p); err != nil {
			h.fail(p, err)
			return
		}
		if r.Method == http.MethodPost {
			if err := checkOrigin(r); err != nil {
				h.fail(p, err)
				return
			}
			limit := rt.body
			if limit == 0 {
				limit = formLimit
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if err := parseBody(r, limit); err != nil {
				h.fail(p, err)
				return
			}
			if !rt.ownCSRF {
				if err := checkCSRF(p); err != nil {
					h.fail(p, err)
					return
				}
			}
		} else if !rt.noSession {
			w.Header().Set("Cache-Control", "no-store")
		}
		if err := rt.fn(p); err != nil {
			h.fail(p, err)
		}
	})
}

// allows checks the caller against the route's access: an anonymous caller of a page is sent
// to log in; of an action, refused.
func (rt route) allows(p *page) error {
	if rt.access == anyone {
		return nil
	}
	if p.user == nil {
		if p.r.Method == http.MethodGet || p.r.Method == http.MethodHead {
			return redirectLogin{next: p.r.URL.RequestURI()}
		}
		return statusErrorf(http.StatusForbidden, "Log in first: this action needs a session.")
	}
	if rt.access == adminOnly && !p.user.IsAdmin {
		return statusErrorf(http.StatusForbidden, "Administrators only.")
	}
	return nil
}

// parseBody reads a form body within limit: urlencoded, or multipart with its files held in
// memory (the limit bounds them).
func parseBody(r *http.Request, limit int64) error {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(limit)
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return statusErrorf(http.StatusRequestEntityTooLarge, "The request is larger than %d bytes.", limit)
	}
	if err != nil {
		return statusErrorf(http.StatusBadRequest, "Unreadable form: %v", err)
	}
	return nil
}

// statusError is an error page with its status.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

func statusErrorf(code int, format string, args ...any) error {
	return &statusError{code: code, msg: fmt.Sprintf(format, args...)}
}

// redirectLogin sends an anonymous caller to the login page, to come back to next.
type redirectLogin struct{ next string }

func (redirectLogin) Error() string { return "log in first" }

// fail answers an error: a redirect to log in, an error page with the error's status, or a
// 500 that logs the cause and shows none of it.
func (h *Handler) fail(p *page, err error) {
	var rl redirectLogin
	if errors.As(err, &rl) {
		http.Redirect(p.w, p.r, "/MAAS/r/login?next="+urlQueryEscape(rl.next), http.StatusSeeOther)
		return
	}
	code, msg := http.StatusInternalServerError, "Something went wrong; the region's log says what."
	var se *statusError
	switch {
	case errors.As(err, &se):
		code, msg = se.code, se.msg
	case errors.Is(err, store.ErrNotFound):
		code, msg = http.StatusNotFound, "Not found."
	case errors.Is(err, context.DeadlineExceeded):
		code, msg = http.StatusServiceUnavailable, "The region took too long to answer; try again."
	default:
		h.log().Error("web interface", "method", p.r.Method, "path", p.r.URL.Path, "err", err)
	}
	p.w.Header().Set("Cache-Control", "no-store")
	p.render(code, "error", map[string]any{"Title": http.StatusText(code), "Code": code, "Message": msg})
}
