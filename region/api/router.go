package api

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
)

// access says who may call an action.
type access int

const (
	anonymous access = iota // no credentials needed (credentials, when given, are still checked)
	authUser                // any user's API key
	authAdmin               // an administrator's API key
	// adminOrEnlisting is an administrator's API key, or no credentials at all: a machine
	// enlisting itself (the action checks enable_anonymous_enlistment).
	adminOrEnlisting
)

// action is one operation of a handler: a RESTful method (op "") or a named op.
type action struct {
	name   string // CLI name: read, create, update, delete, or the op
	method string
	op     string
	doc    string
	params []param
	access access
	// node is what the action needs of the machine its path names (nodeNone elsewhere).
	node nodePerm
	fn   func(*request) (any, error)
}

// param documents one parameter in an action's doc, which is how the upstream CLI learns
// that the action takes key=value arguments.
type param struct {
	name, doc string
}

// handler is an API resource: a path with placeholders and its actions. The same table routes
// requests and answers describe/.
type handler struct {
	name    string // upstream's class name, e.g. MachinesHandler (the CLI derives "machines")
	path    string // e.g. /MAAS/api/2.0/machines/{system_id}/
	doc     string
	actions []*action
	segs    []string
}

func (h *handler) params() []string {
	out := []string{}
	for _, s := range h.segs {
		if strings.HasPrefix(s, "{") {
			out = append(out, strings.Trim(s, "{}"))
		}
	}
	return out
}

// match reports whether path fits the handler's pattern and gives the placeholder values.
func (h *handler) match(segs []string) (map[string]string, bool) {
	if len(segs) != len(h.segs) {
		return nil, false
	}
	vals := map[string]string{}
	for i, s := range h.segs {
		if strings.HasPrefix(s, "{") {
			if segs[i] == "" {
				return nil, false
			}
			vals[strings.Trim(s, "{}")] = segs[i]
			continue
		}
		if s != segs[i] {
			return nil, false
		}
	}
	return vals, true
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

// lookup finds the handler for a path. A last segment `op-NAME` names the op when a handler
// of the shorter path has that op (upstream's dispatcher accepts this form).
func (s *Server) lookup(path string) (*handler, map[string]string, string) {
	segs := splitPath(path)
	if n := len(segs); n > 0 && strings.HasPrefix(segs[n-1], "op-") {
		op := strings.TrimPrefix(segs[n-1], "op-")
		for _, h := range s.handlers {
			if vals, ok := h.match(segs[:n-1]); ok && h.hasOp(op) {
				return h, vals, op
			}
		}
	}
	for _, h := range s.handlers {
		if vals, ok := h.match(segs); ok {
			return h, vals, ""
		}
	}
	return nil, nil, ""
}

func (h *handler) hasOp(op string) bool {
	for _, a := range h.actions {
		if a.op == op {
			return true
		}
	}
	return false
}

// find picks the action for a method and op.
func (h *handler) find(method, op string) *action {
	for _, a := range h.actions {
		if a.method == method && a.op == op {
			return a
		}
	}
	return nil
}

// description renders the handler table in the format of upstream's describe/
// (protocol.md §11.5).
func (s *Server) description(base string) map[string]any {
	var handlers []map[string]any
	var resources []map[string]any
	for _, h := range s.handlers {
		auth := s.describeHandler(h, base, h.name, func(*action) bool { return true })
		var anon any
		if hasAnon(h) {
			anon = s.describeHandler(h, base, "Anon"+h.name, func(a *action) bool { return a.access.anonymousOK() })
		}
		handlers = append(handlers, auth)
		resources = append(resources, map[string]any{"name": h.name, "anon": anon, "auth": auth})
	}
	desc := map[string]any{"doc": "MAAS API", "resources": resources, "handlers": handlers}
	b, _ := json.Marshal(desc)
	sum := sha1.Sum(b)
	desc["hash"] = hex.EncodeToString(sum[:])
	return desc
}

// anonymousOK reports whether a request without credentials may reach the action.
func (a access) anonymousOK() bool { return a == anonymous || a == adminOrEnlisting }

func hasAnon(h *handler) bool {
	for _, a := range h.actions {
		if a.access.anonymousOK() {
			return true
		}
	}
	return false
}

func (s *Server) describeHandler(h *handler, base, name string, keep func(*action) bool) map[string]any {
	actions := []map[string]any{}
	for _, a := range h.actions {
		if !keep(a) {
			continue
		}
		var op any
		if a.op != "" {
			op = a.op
		}
		actions = append(actions, map[string]any{
			"name": a.name, "method": a.method, "op": op, "restful": a.op == "", "doc": a.fullDoc(),
		})
	}
	sort.Slice(actions, func(i, j int) bool { return actions[i]["name"].(string) < actions[j]["name"].(string) })
	return map[string]any{
		"name": name, "doc": h.doc, "params": h.params(), "path": h.path,
		"uri": base + h.path, "actions": actions,
	}
}

// fullDoc is the action's doc with a `:param name: …` line per parameter after a blank line.
func (a *action) fullDoc() string {
	doc := a.doc
	if len(a.params) > 0 {
		doc += "\n"
		for _, p := range a.params {
			doc += "\n:param " + p.name + ": " + p.doc
		}
	}
	return doc
}

// externalBase is scheme://host of the request as the client addressed it.
func externalBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = h
	}
	return scheme + "://" + host
}
