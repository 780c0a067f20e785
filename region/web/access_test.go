package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"maasgo/region/store/storetest"
)

// TestRouteTable holds the whole table of routes and who may call each: a route added or
// changed must be added here.
func TestRouteTable(t *testing.T) {
	want := []string{
		"GET /MAAS/r/static/{file} anyone",
		"GET /MAAS/r/login anyone",
		"POST /MAAS/r/login anyone",
		"POST /MAAS/r/logout user",
		"GET /MAAS/r/{$} user",
		"GET /MAAS/r/machines user",
		"POST /MAAS/r/machines/action admin",
		"GET /MAAS/r/machines/{system_id} user",
		"GET /MAAS/r/machines/{system_id}/live user",
		"GET /MAAS/r/machines/{system_id}/results/{result_id} user",
		"GET /MAAS/r/scripts user",
		"POST /MAAS/r/scripts admin",
		"GET /MAAS/r/scripts/{name} user",
		"GET /MAAS/r/scripts/{name}/diff user",
		"GET /MAAS/r/settings admin",
		"POST /MAAS/r/settings admin",
	}
	h := New(nil, Options{})
	var got []string
	for _, rt := range h.routes {
		got = append(got, fmt.Sprintf("%s %s %s", rt.method, rt.path, rt.access))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("route table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestAccess calls every route as anonymous, as a user and as an administrator: anonymous
// callers of pages are sent to log in and of actions refused (403); users are refused
// administrators' routes; the right caller is never refused.
func TestAccess(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	fill := strings.NewReplacer("{file}", "style.css", "{system_id}", w.ids["ready1"],
		"{result_id}", fmt.Sprint(w.result), "{name}", "smartctl-validate", "{$}", "")
	for _, rt := range w.h.routes {
		path := fill.Replace(rt.path)
		if strings.HasSuffix(rt.path, "/diff") {
			path += "?from=1&to=1"
		}
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			for _, who := range []string{"anonymous", "bob", "alice"} {
				c, csrf := w.client(), ""
				if who != "anonymous" {
					c, csrf = w.session(who)
				}
				if rt.ownCSRF { // the login form's token is a cookie's double
					csrf = randomToken()
					u, _ := url.Parse(w.srv.URL + "/MAAS/r/login")
					c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: loginCSRFCookie, Value: csrf, Path: "/MAAS/r/login"}})
				}
				var r resp
				if rt.method == "POST" {
					r = c.post(path, url.Values{"csrf": {csrf}})
				} else {
					r = c.get(path)
				}
				allowed := rt.access == anyone || (rt.access == userOnly && who != "anonymous") || (rt.access == adminOnly && who == "alice")
				switch {
				case allowed && (r.code == 403 || (r.code == 303 && strings.HasPrefix(r.header.Get("Location"), "/MAAS/r/login?"))):
					t.Errorf("%s: %d %s; want it allowed", who, r.code, r.header.Get("Location"))
				case !allowed && who == "anonymous" && rt.method == "GET" && (r.code != 303 || !strings.HasPrefix(r.header.Get("Location"), "/MAAS/r/login?next=")):
					t.Errorf("%s: %d (Location %q); want 303 to the login page", who, r.code, r.header.Get("Location"))
				case !allowed && (who != "anonymous" || rt.method == "POST") && r.code != 403:
					t.Errorf("%s: %d; want 403", who, r.code)
				}
			}
		})
	}
}
