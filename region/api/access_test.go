package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/metrics"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// The callers of the access matrix. For routes that name a machine, the machine is owned by
// "owner"; "user" is a non-administrator acting on an unowned (Ready) machine.
const (
	asAdmin   = "admin"
	asOwner   = "owner"
	asOther   = "other user"
	asUser    = "user, unowned machine"
	asMachine = "machine token"
	asAnon    = "anonymous"
)

var callers = []string{asAdmin, asOwner, asOther, asUser, asMachine, asAnon}

// Who may call what. The rules are upstream's (NodePermission and @admin_method):
//
//	anyone      no credentials needed
//	user        any user's API key
//	admin       administrators
//	view, edit  administrators, the machine's owner, anyone when the machine is unowned
//	node-admin  administrators (a locked machine refuses them too)
var rules = map[string][]string{
	"anyone":     {asAdmin, asOwner, asOther, asUser, asMachine, asAnon},
	"user":       {asAdmin, asOwner, asOther, asUser},
	"admin":      {asAdmin},
	"enlisting":  {asAdmin, asAnon}, // anonymous: while enable_anonymous_enlistment is on
	"view":       {asAdmin, asOwner, asUser},
	"edit":       {asAdmin, asOwner, asUser},
	"node-admin": {asAdmin},
}

// accessTable is every route of the API: handler and action → rule. A route missing here
// fails the test, so every new route says who may call it.
var accessTable = map[string]string{
	"VersionHandler read": "anyone",

	"UsersHandler read":   "user",
	"UsersHandler create": "admin",
	"UsersHandler whoami": "user",
	"UserHandler read":    "user",
	"UserHandler delete":  "admin",

	"AccountHandler create_authorisation_token": "user",
	"AccountHandler delete_authorisation_token": "user",
	"AccountHandler list_authorisation_tokens":  "user",

	"MachinesHandler read":          "user",
	"MachinesHandler create":        "enlisting",
	"MachinesHandler allocate":      "user",
	"MachinesHandler is_registered": "anyone",

	"MachineHandler read":                 "view",
	"MachineHandler update":               "node-admin",
	"MachineHandler delete":               "node-admin",
	"MachineHandler get_token":            "node-admin",
	"MachineHandler deploy":               "edit",
	"MachineHandler release":              "edit",
	"MachineHandler commission":           "node-admin",
	"MachineHandler test":                 "node-admin",
	"MachineHandler power_on":             "edit",
	"MachineHandler power_off":            "edit",
	"MachineHandler query_power_state":    "view",
	"MachineHandler hardware_changes":     "view",
	"MachineHandler hardware_profile":     "view",
	"MachineHandler set_hardware_profile": "node-admin",
	"MachineHandler reparse":              "node-admin",
	"MachineHandler abort":                "edit",

	"MachineHandler override_failed_testing": "node-admin",

	"NodeScriptsHandler read":      "user",
	"NodeScriptsHandler create":    "admin",
	"NodeScriptHandler read":       "user",
	"NodeScriptHandler update":     "admin",
	"NodeScriptHandler delete":     "admin",
	"NodeScriptHandler download":   "user",
	"NodeScriptHandler revert":     "admin",
	"NodeScriptHandler add_tag":    "admin",
	"NodeScriptHandler remove_tag": "admin",

	"NodeScriptResultsHandler read":       "view",
	"NodeScriptResultsHandler export":     "view",
	"NodeScriptResultsHandler export_key": "view",
	"NodeScriptResultsHandler update":     "node-admin",
	"NodeScriptResultHandler read":        "view",
	"NodeScriptResultHandler update":      "node-admin",
	"NodeScriptResultHandler delete":      "node-admin",
	"NodeScriptResultHandler download":    "view",

	"InterfacesHandler read":  "view",
	"InterfaceHandler read":   "view",
	"InterfaceHandler update": "node-admin",

	"EventsHandler query": "user",

	"TagsHandler read":        "user",
	"TagsHandler create":      "admin",
	"TagHandler read":         "user",
	"TagHandler delete":       "admin",
	"TagHandler update_nodes": "admin",
	"TagHandler machines":     "user",

	"MaasHandler get_config":           "user",
	"MaasHandler set_config":           "admin",
	"MaasHandler hardware_profiles":    "user",
	"MaasHandler set_hardware_profile": "admin",
}

// accessWorld is the fixture one case runs against: the users and their keys, and the
// machines the path names.
type accessWorld struct {
	srv   *httptest.Server
	st    *store.Store
	keys  map[string]wire.Credentials // by caller
	users map[string]*store.User
}

func newAccessWorld(t *testing.T) *accessWorld {
	t.Helper()
	e := storetest.SQLite(t)
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &accessWorld{st: st, keys: map[string]wire.Credentials{}, users: map[string]*store.User{}}
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		if _, _, err := library.RegisterBuiltins(tx); err != nil {
			return err
		}
		for _, name := range []string{asAdmin, asOwner, asOther} {
			u := &store.User{Username: strings.ReplaceAll(name, " ", "-"), IsAdmin: name == asAdmin}
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			tok := store.NewToken(store.TokenUser)
			tok.UserID = &u.ID
			if err := tx.CreateToken(tok); err != nil {
				return err
			}
			w.users[name] = u
			w.keys[name] = wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}
		}
		// The non-administrator on an unowned machine is the other user.
		w.users[asUser], w.keys[asUser] = w.users[asOther], w.keys[asOther]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.srv = httptest.NewServer(New(st, Options{Metrics: metrics.New(st)}))
	t.Cleanup(w.srv.Close)
	return w
}

// target makes what one case's path names: a machine (owned by owner, or unowned and Ready
// for asUser) with an interface and a commissioning run, a script and a user; it returns the
// placeholder values and the caller's credentials (the machine's token for asMachine, none
// for asAnon).
func (w *accessWorld) target(t *testing.T, n int, caller string) (map[string]string, *wire.Credentials) {
	t.Helper()
	vals := map[string]string{}
	var mk wire.Credentials
	err := w.st.Update(context.Background(), func(tx *store.Tx) error {
		m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: fmt.Sprintf("m%d", n), Deployed: true,
			Architecture: "amd64", MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", n>>8, n&0xff)}}, w.users[asOwner])
		if err != nil {
			return err
		}
		if caller == asUser {
			if err := lifecycle.Release(tx, m, w.users[asAdmin], ""); err != nil {
				return err
			}
		}
		vals["system_id"] = m.SystemID
		ifs, err := tx.Interfaces(m.ID)
		if err != nil || len(ifs[m.ID]) == 0 {
			return fmt.Errorf("interfaces: %v", err)
		}
		vals["id"] = strconv.FormatInt(ifs[m.ID][0].ID, 10)
		tok, err := tx.NodeToken(m.ID)
		if err != nil {
			return err
		}
		mk = wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}
		s, err := library.Create(tx, library.Request{Body: []byte("#!/bin/sh\necho hi\n"),
			Fields: map[string]string{"name": fmt.Sprintf("s%d", n), "type": "testing"}})
		if err != nil {
			return err
		}
		vals["name"] = s.Name
		// {name} names a tag too.
		if err := tx.CreateTag(&store.Tag{Name: s.Name}); err != nil {
			return err
		}
		u := &store.User{Username: fmt.Sprintf("u%d", n)}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		vals["username"] = u.Username
		return nil
	})
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	switch caller {
	case asAnon:
		return vals, nil
	case asMachine:
		return vals, &mk
	}
	c := w.keys[caller]
	return vals, &c
}

// call sends the action as caller, the path's placeholders filled from vals.
func (w *accessWorld) call(t *testing.T, h *handler, a *action, vals map[string]string, creds *wire.Credentials) (int, string) {
	t.Helper()
	path := h.path
	for _, p := range h.params() {
		v := vals[p]
		if h.name == "NodeScriptResultHandler" && p == "id" {
			v = "current-commissioning"
		}
		path = strings.Replace(path, "{"+p+"}", v, 1)
	}
	u := w.srv.URL + path
	if a.op != "" {
		u += "?op=" + a.op
	}
	req, _ := http.NewRequest(a.method, u, nil)
	if creds != nil {
		req.Header.Set("Authorization", creds.AuthorizationHeader(time.Now()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, string(b)
}

// TestAccessMatrix calls every route of the API as every kind of caller and checks that the
// callers the table allows get past authorization and the others get 401 (anonymous) or 403.
func TestAccessMatrix(t *testing.T) {
	w := newAccessWorld(t)
	s := New(w.st, Options{})
	seen := map[string]bool{}
	n := 0
	for _, h := range s.handlers {
		for _, a := range h.actions {
			key := h.name + " " + a.name
			seen[key] = true
			rule, ok := accessTable[key]
			if !ok {
				t.Errorf("%s (%s %s op=%s) is not in the access table: say who may call it", key, a.method, h.path, a.op)
				continue
			}
			allowed := map[string]bool{}
			for _, c := range rules[rule] {
				allowed[c] = true
			}
			for _, caller := range callers {
				n++
				vals, creds := w.target(t, n, caller)
				code, body := w.call(t, h, a, vals, creds)
				switch {
				case allowed[caller] && (code == 401 || code == 403):
					t.Errorf("%s as %s: %d %q; the rule %q allows it", key, caller, code, body, rule)
				case !allowed[caller] && caller == asAnon && code != 401:
					t.Errorf("%s as %s: %d %q; want 401", key, caller, code, body)
				case !allowed[caller] && caller != asAnon && code != 403:
					t.Errorf("%s as %s: %d %q; want 403", key, caller, code, body)
				case code >= 500:
					t.Errorf("%s as %s: %d %q", key, caller, code, body)
				}
			}
		}
	}
	var stale []string
	for k := range accessTable {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("the access table names routes that do not exist: %v", stale)
	}
}

// TestNodeRoutesDeclarePermission checks that every action on a path naming a machine says
// what it needs of the machine, so none falls back to the closed default.
func TestNodeRoutesDeclarePermission(t *testing.T) {
	s := New(nil, Options{})
	for _, h := range s.handlers {
		names := strings.Contains(h.path, "{system_id}")
		for _, a := range h.actions {
			if names && a.node == nodeNone {
				t.Errorf("%s %s names a machine but declares no node permission", h.name, a.name)
			}
			if !names && a.node != nodeNone {
				t.Errorf("%s %s declares a node permission but names no machine", h.name, a.name)
			}
		}
	}
}

// TestAccessOutsideTheAPI holds who may reach the paths outside API 2.0: the metadata tree is
// for machine tokens alone (a machine reaches only its own), describe/, the metrics and the
// agent downloads for anyone.
func TestAccessOutsideTheAPI(t *testing.T) {
	w := newAccessWorld(t)
	machineOnly := []string{asMachine}
	n := 10000
	for _, tc := range []struct {
		method, path, ct, body string
		allowed                []string
	}{
		{"GET", "/MAAS/api/2.0/describe/", "", "", callers},
		{"GET", "/MAAS/metrics", "", "", callers}, // unless the metrics_token setting is set (TestMetrics)
		{"GET", "/MAAS/maas-run-scripts", "", "", callers},
		{"GET", "/MAAS/maas-run-scripts/amd64", "", "", callers},
		{"GET", "/MAAS/machine-resources/amd64", "", "", callers},
		{"GET", "/MAAS/metadata/latest/", "", "", machineOnly},
		{"GET", "/MAAS/metadata/latest/maas-scripts", "", "", []string{asMachine, asAnon}},  // anonymous: the enlistment scripts
		{"GET", "/MAAS/metadata/latest/by-id/{system_id}/?op=get_preseed", "", "", callers}, // 404 but for an enlisting machine
		{"GET", "/MAAS/metadata/2012-03-01/meta-data/instance-id", "", "", machineOnly},
		{"GET", "/MAAS/metadata/latest/user-data", "", "", machineOnly},
		{"POST", "/MAAS/metadata/2012-03-01/", "application/x-www-form-urlencoded", "op=signal&status=WORKING", machineOnly},
		{"POST", "/MAAS/metadata/2012-03-01/", "application/x-www-form-urlencoded", "op=netboot_off", machineOnly},
		{"POST", "/MAAS/metadata/status/{system_id}", "application/json", `{"event_type":"start","origin":"curtin","name":"x"}`, machineOnly},
	} {
		allowed := map[string]bool{}
		for _, c := range tc.allowed {
			allowed[c] = true
		}
		for _, caller := range callers {
			n++
			vals, creds := w.target(t, n, caller)
			path := strings.Replace(tc.path, "{system_id}", vals["system_id"], 1)
			req, _ := http.NewRequest(tc.method, w.srv.URL+path, strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			if creds != nil {
				req.Header.Set("Authorization", creds.AuthorizationHeader(time.Now()))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			code := resp.StatusCode
			switch {
			case allowed[caller] && (code == 401 || code == 403 || code >= 500):
				t.Errorf("%s %s as %s: %d %q; want it allowed", tc.method, tc.path, caller, code, b)
			case !allowed[caller] && caller == asAnon && code != 401:
				t.Errorf("%s %s as %s: %d %q; want 401", tc.method, tc.path, caller, code, b)
			case !allowed[caller] && caller != asAnon && code != 403:
				t.Errorf("%s %s as %s: %d %q; want 403", tc.method, tc.path, caller, code, b)
			}
		}
	}
}
