package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
)

// TestLogin logs in and out through the forms on both engines: the session cookie's
// attributes, the session stored by its hash only, the redirect to where the user was going,
// and the session gone after logging out.
func TestLogin(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			w := newWorld(t, e)
			c := w.client()
			if r := c.get("/MAAS/r/machines?status=ready"); r.code != 303 || r.header.Get("Location") != "/MAAS/r/login?next=%2FMAAS%2Fr%2Fmachines%3Fstatus%3Dready" {
				t.Fatalf("anonymous machines list: %d %q; want 303 to the login page", r.code, r.header.Get("Location"))
			}
			r := c.login("alice", testPassword)
			if r.code != 303 || r.header.Get("Location") != "/MAAS/r/machines" {
				t.Fatalf("login: %d %q %s", r.code, r.header.Get("Location"), r.body)
			}
			var sc string
			for _, line := range r.header.Values("Set-Cookie") {
				if strings.HasPrefix(line, sessionCookie+"=") {
					sc = line
				}
			}
			for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/MAAS/r/", "Expires="} {
				if !strings.Contains(sc, attr) {
					t.Errorf("session cookie %q lacks %s", sc, attr)
				}
			}
			if strings.Contains(sc, "Secure") {
				t.Errorf("session cookie %q is Secure over plain HTTP", sc)
			}
			id := strings.TrimPrefix(strings.SplitN(sc, ";", 2)[0], sessionCookie+"=")
			if len(id) != 43 {
				t.Errorf("session id %q is not 32 random bytes in base64url", id)
			}
			w.st.View(context.Background(), func(tx *store.Tx) error {
				if _, err := tx.SessionByHash(id); err == nil {
					t.Error("the session is stored under its raw id")
				}
				if s, err := tx.SessionByHash(store.HashSessionID(id)); err != nil || s.UserID != w.users["alice"].ID {
					t.Errorf("session by hash: %+v, %v", s, err)
				}
				return nil
			})
			page := c.get("/MAAS/r/machines")
			if page.code != 200 || !strings.Contains(page.body, "ready1") || !strings.Contains(page.body, "alice (admin)") {
				t.Fatalf("machines after login: %d %.300s", page.code, page.body)
			}
			if r := c.get("/MAAS/r/login?next=/MAAS/r/scripts"); r.code != 303 || r.header.Get("Location") != "/MAAS/r/scripts" {
				t.Errorf("login page when logged in: %d %q; want 303 to next", r.code, r.header.Get("Location"))
			}
			csrf := csrfRE.FindStringSubmatch(page.body)[1]
			if r := c.post("/MAAS/r/logout", url.Values{"csrf": {csrf}}); r.code != 303 || r.header.Get("Location") != "/MAAS/r/login" {
				t.Errorf("logout: %d %q", r.code, r.header.Get("Location"))
			}
			w.st.View(context.Background(), func(tx *store.Tx) error {
				if _, err := tx.SessionByHash(store.HashSessionID(id)); err == nil {
					t.Error("the session outlived logging out")
				}
				return nil
			})
			// The old cookie, replayed, is anonymous.
			old := w.client()
			u, _ := url.Parse(w.srv.URL + "/MAAS/r/")
			old.hc.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: id, Path: cookiePath}})
			if r := old.get("/MAAS/r/machines"); r.code != 303 {
				t.Errorf("a logged-out session's cookie: %d; want 303 to log in", r.code)
			}
		})
	}
}

func TestLoginRefusals(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	c := w.client()
	for _, tc := range []struct{ user, pw string }{{"alice", "wrong password"}, {"nobody", testPassword}, {"carol", ""}, {"carol", testPassword}} {
		if r := c.login(tc.user, tc.pw); r.code != 401 || !strings.Contains(r.body, "Wrong username or password") {
			t.Errorf("login %s/%q: %d; want 401 with a message", tc.user, tc.pw, r.code)
		}
	}
	// Without the form's token (another site's form), or from another origin: 403.
	if r := c.post("/MAAS/r/login", url.Values{"username": {"alice"}, "password": {testPassword}}); r.code != 403 {
		t.Errorf("login without the form's token: %d; want 403", r.code)
	}
	page := c.get("/MAAS/r/login")
	tok := csrfRE.FindStringSubmatch(page.body)[1]
	r := c.do("POST", "/MAAS/r/login", url.Values{"csrf": {tok}, "username": {"alice"}, "password": {testPassword}},
		map[string]string{"Origin": "http://evil.example"})
	if r.code != 403 {
		t.Errorf("login from another origin: %d; want 403", r.code)
	}
	// An expired session is anonymous.
	sc, _ := w.session("alice")
	w.h.opts.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if r := sc.get("/MAAS/r/machines"); r.code != 303 {
		t.Errorf("an expired session: %d; want 303 to log in", r.code)
	}
	w.h.opts.Now = nil
}

// TestLoginRateLimit: after five failures for one username, even the right password is
// refused (429) until the window passes; another user is not affected.
func TestLoginRateLimit(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	now := time.Now()
	w.h.logins.now = func() time.Time { return now }
	c := w.client()
	for i := 0; i < maxFailsPerUser; i++ {
		if r := c.login("bob", "nope-nope"); r.code != 401 {
			t.Fatalf("failure %d: %d", i, r.code)
		}
	}
	r := c.login("bob", testPassword)
	if r.code != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed logins") {
		t.Errorf("login after %d failures: %d (Retry-After %q); want 429", maxFailsPerUser, r.code, r.header.Get("Retry-After"))
	}
	if r := c.login("alice", testPassword); r.code != 303 {
		t.Errorf("another user's login: %d; want 303", r.code)
	}
	now = now.Add(loginWindow)
	if r := w.client().login("bob", testPassword); r.code != 303 {
		t.Errorf("login after the window: %d; want 303", r.code)
	}
}

// TestCSRF: every POST needs its session's token and a same-origin Origin.
func TestCSRF(t *testing.T) {
	w := newWorld(t, storetest.SQLite(t))
	c, csrf := w.session("alice")
	form := url.Values{"action": {"abort"}, "system_id": {w.ids["ready1"]}}
	if r := c.post("/MAAS/r/machines/action", form); r.code != 403 || !strings.Contains(r.body, "CSRF") {
		t.Errorf("action without a token: %d; want 403 naming CSRF", r.code)
	}
	form.Set("csrf", csrf+"x")
	if r := c.post("/MAAS/r/machines/action", form); r.code != 403 {
		t.Errorf("action with a wrong token: %d; want 403", r.code)
	}
	_, other := w.session("bob")
	form.Set("csrf", other)
	if r := c.post("/MAAS/r/machines/action", form); r.code != 403 {
		t.Errorf("action with another session's token: %d; want 403", r.code)
	}
	form.Set("csrf", csrf)
	for _, hdr := range []map[string]string{{"Origin": "http://evil.example"}, {"Referer": "http://evil.example/form"}, {"Sec-Fetch-Site": "cross-site"}} {
		if r := c.do("POST", "/MAAS/r/machines/action", form, hdr); r.code != 403 {
			t.Errorf("action with %v: %d; want 403", hdr, r.code)
		}
	}
	if r := c.post("/MAAS/r/machines/action", form); r.code != 200 {
		t.Errorf("action with its token: %d %.300s", r.code, r.body)
	}
	// A body past the form bound is refused without being read whole.
	big := url.Values{"csrf": {csrf}, "pad": {strings.Repeat("x", formLimit)}}
	if r := c.post("/MAAS/r/settings", big); r.code != 413 {
		t.Errorf("a form past %d bytes: %d; want 413", formLimit, r.code)
	}
}
