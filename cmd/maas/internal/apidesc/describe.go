// Package apidesc reads the region's describe/ document and turns it into the commands the
// maas CLI offers, named as upstream's CLI names them (protocol.md §11.5).
package apidesc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Description is the describe/ document.
type Description struct {
	Doc       string     `json:"doc"`
	Hash      string     `json:"hash"`
	Resources []Resource `json:"resources"`
}

// Resource pairs the authenticated and anonymous handlers of one API resource; either may be
// missing.
type Resource struct {
	Name string   `json:"name"`
	Anon *Handler `json:"anon"`
	Auth *Handler `json:"auth"`
}

// Handler is one handler class: its path (with {param} placeholders) and actions.
type Handler struct {
	Name    string   `json:"name"`
	Doc     string   `json:"doc"`
	Params  []string `json:"params"`
	Path    string   `json:"path"`
	URI     string   `json:"uri"`
	Actions []Action `json:"actions"`
}

// Action is an operation: a RESTful method (Op "") or a named op.
type Action struct {
	Name    string `json:"name"`
	Method  string `json:"method"`
	Op      string `json:"op"` // null in the document reads as ""
	Restful bool   `json:"restful"`
	Doc     string `json:"doc"`
}

// Parse reads a describe/ document. It only checks the shape; handlers the CLI cannot use are
// dropped later, by Commands.
func Parse(data []byte) (*Description, error) {
	var d Description
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("parse API description: %w", err)
	}
	var probe struct {
		Resources json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(data, &probe); err != nil || len(probe.Resources) == 0 || string(probe.Resources) == "null" {
		return nil, errors.New("parse API description: no resources in it")
	}
	return &d, nil
}

// Command is a resource as the CLI shows it.
type Command struct {
	Name    string // e.g. node-script-result
	Handler string // e.g. NodeScriptResultHandler
	Doc     string
	Params  []string // path parameters, filled by positional arguments in this order
	Path    string
	Actions []CommandAction
}

// CommandAction is an action as the CLI shows it.
type CommandAction struct {
	Name   string // e.g. set-config
	Method string
	Op     string
	Doc    string
	// TakesData says whether key=value arguments are accepted: only when the doc's body
	// documents a ":param" (upstream's rule).
	TakesData bool
}

// Commands derives the CLI's resources from d as upstream's CLI does: resources sorted by
// command name; for each, the actions of the authenticated handler, then those of the
// anonymous one whose names are new (anonymous profiles see the anonymous handler only);
// the path and parameters of the authenticated handler when there is one. Resources without
// actions, without a usable path or whose name repeats an earlier one are left out.
func Commands(d *Description, anonymous bool) []Command {
	var out []Command
	for _, r := range d.Resources {
		handlers := []*Handler{r.Auth, r.Anon}
		if anonymous {
			handlers = []*Handler{r.Anon}
		}
		var acts []CommandAction
		seen := map[string]bool{}
		for _, h := range handlers {
			if h == nil {
				continue
			}
			for _, a := range h.Actions {
				name := SafeName(a.Name)
				if name == "" || seen[a.Name] || seen[name] || !validMethod(a.Method) {
					continue
				}
				seen[a.Name], seen[name] = true, true
				_, body := SplitDoc(a.Doc)
				acts = append(acts, CommandAction{Name: name, Method: a.Method, Op: a.Op, Doc: a.Doc,
					TakesData: strings.Contains(body, ":param")})
			}
		}
		h := r.Auth
		if h == nil {
			h = r.Anon
		}
		name := CommandName(r.Name)
		if len(acts) == 0 || h == nil || name == "" || CheckPath(h.Path, h.Params) != nil {
			continue
		}
		out = append(out, Command{Name: name, Handler: r.Name, Doc: h.Doc, Params: h.Params, Path: h.Path, Actions: acts})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	kept := out[:0]
	for i, c := range out {
		if i > 0 && c.Name == out[i-1].Name {
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// validMethod accepts an HTTP method token (upper-case letters).
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// CheckPath verifies that path is absolute and that its {placeholders} are exactly params.
func CheckPath(path string, params []string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("path %q is not absolute", path)
	}
	want := map[string]bool{}
	for _, p := range params {
		if p == "" || strings.ContainsAny(p, "{}") {
			return fmt.Errorf("path %q: bad parameter name %q", path, p)
		}
		want[p] = true
	}
	found := map[string]bool{}
	rest := path
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return fmt.Errorf("path %q has an unmatched }", path)
			}
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return fmt.Errorf("path %q has an unmatched {", path)
		}
		name := rest[i+1 : i+j]
		if !want[name] {
			return fmt.Errorf("path %q has placeholder {%s} that is not among its parameters", path, name)
		}
		found[name] = true
		rest = rest[i+j+1:]
	}
	for _, p := range params {
		if !found[p] {
			return fmt.Errorf("path %q lacks parameter {%s}", path, p)
		}
	}
	return nil
}

// Expand fills path's placeholders with values, in the order of params, path-escaped.
func Expand(path string, params, values []string) (string, error) {
	if len(params) != len(values) {
		return "", fmt.Errorf("path %q needs %d values, got %d", path, len(params), len(values))
	}
	if err := CheckPath(path, params); err != nil {
		return "", err
	}
	pairs := make([]string, 0, 2*len(params))
	for i, p := range params {
		pairs = append(pairs, "{"+p+"}", url.PathEscape(values[i]))
	}
	return strings.NewReplacer(pairs...).Replace(path), nil
}
