package web

import (
	"strings"
	"testing"

	"maasgo/region/store/storetest"
)

// TestStaticAndHeaders: the embedded files by name only, the redirects into the interface,
// and the headers every page carries.
func TestStaticAndHeaders(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	c := w.client()
	for name, ct := range map[string]string{"style.css": "text/css; charset=utf-8", "live.js": "text/javascript; charset=utf-8"} {
		r := c.get("/MAAS/r/static/" + name)
		if r.code != 200 || r.header.Get("Content-Type") != ct || len(r.body) < 100 {
			t.Errorf("static %s: %d %q %d bytes", name, r.code, r.header.Get("Content-Type"), len(r.body))
		}
	}
	for _, path := range []string{"/MAAS/r/static/nope.css", "/MAAS/r/static/templates%2Flayout.html", "/MAAS/r/static/..%2Fweb.go"} {
		if r := c.get(path); r.code != 404 {
			t.Errorf("%s: %d; want 404", path, r.code)
		}
	}
	if r := c.get("/MAAS/"); r.code != 302 || r.header.Get("Location") != "/MAAS/r/" {
		t.Errorf("GET /MAAS/: %d %q; want a redirect to /MAAS/r/", r.code, r.header.Get("Location"))
	}
	alice, _ := w.session("alice")
	if r := alice.get("/MAAS/r/"); r.code != 303 || r.header.Get("Location") != "/MAAS/r/machines" {
		t.Errorf("GET /MAAS/r/: %d %q", r.code, r.header.Get("Location"))
	}
	r := alice.get("/MAAS/r/machines")
	for k, want := range map[string]string{"Content-Security-Policy": "script-src 'self'", "X-Frame-Options": "DENY",
		"Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
		if !strings.Contains(r.header.Get(k), want) {
			t.Errorf("header %s: %q; want it to hold %q", k, r.header.Get(k), want)
		}
	}
	// Every page is labelled for assistive technology: a language, a skip link, one h1.
	for _, want := range []string{`<html lang="en">`, `href="#main"`, "<h1>"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(r.body, " style=") || strings.Contains(r.body, "<script>") {
		t.Error("a page has inline style or script, which the CSP blocks")
	}
}
