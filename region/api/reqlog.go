package api

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// reqInfo is what the request log and the metrics say of a request beyond its method, path
// and status: its id, its route (one of a fixed set of names, so metrics stay bounded) and
// the machine it concerns, as the handlers learn them.
type reqInfo struct {
	id      string
	route   string
	machine string
}

type infoKey struct{}

// info is the request's reqInfo; a throwaway one outside ServeHTTP (tests calling handlers).
func info(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(infoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// setRoute names the request's route.
func setRoute(r *http.Request, route string) { info(r).route = route }

// setMachine names the machine the request concerns.
func setMachine(r *http.Request, systemID string) { info(r).machine = systemID }

// requestID is the id the request is logged under and answered with (X-Request-Id): the
// caller's, when it sends a short one of letters, digits and -._ (a proxy in front chaining
// its own), else a new one.
func requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= 64 && plainID(v) {
		return v
	}
	return strconv.FormatUint(rand.Uint64(), 16)
}

func plainID(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// withInfo starts a request's reqInfo and answers its id.
func withInfo(w http.ResponseWriter, r *http.Request, route string) (*http.Request, *reqInfo) {
	i := &reqInfo{id: requestID(r), route: route}
	w.Header().Set("X-Request-Id", i.id)
	return r.WithContext(context.WithValue(r.Context(), infoKey{}, i)), i
}

// logRequest logs a served request once, and records it in the metrics. The query string is
// left out: it may carry a PLAINTEXT OAuth signature.
func (s *Server) logRequest(r *http.Request, i *reqInfo, code int, start time.Time) {
	d := time.Since(start)
	s.opts.Metrics.Request(i.route, code, d)
	log := s.log()
	lvl := slog.LevelInfo
	if code >= 500 {
		lvl = slog.LevelWarn
	}
	if !log.Enabled(r.Context(), lvl) {
		return
	}
	attrs := [...]slog.Attr{
		slog.String("id", i.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", i.route),
		slog.Int("status", code),
		slog.Duration("duration", d),
		slog.String("machine", i.machine),
		slog.String("remote", r.RemoteAddr),
	}
	n := len(attrs)
	if i.machine == "" {
		attrs[6], attrs[7] = attrs[7], attrs[6]
		n--
	}
	log.LogAttrs(r.Context(), lvl, "request", attrs[:n]...)
}
