package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"maasgo/region/api"
	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// world is a region (the API server with this interface as its UI) over a fresh database:
// an administrator alice and a user bob with passwords, carol without one, a Ready machine
// "ready1" with a finished commissioning run, bob's deployed machine "bobs" and alice's
// deployed machine "alices".
type world struct {
	t     testing.TB
	st    *store.Store
	h     *Handler
	srv   *httptest.Server
	users map[string]*store.User
	ids   map[string]string // hostname → system id
	// result is the id of ready1's result with hostile output.
	result int64
}

const testPassword = "correct horse battery"

func newWorld(t testing.TB, e storetest.Engine) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{t: t, st: st, users: map[string]*store.User{}, ids: map[string]string{}}
	hash, err := store.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Update(ctx, func(tx *store.Tx) error {
		if _, _, err := library.RegisterBuiltins(tx); err != nil {
			return err
		}
		for _, u := range []struct {
			name  string
			admin bool
			pw    bool
		}{{"alice", true, true}, {"bob", false, true}, {"carol", false, false}} {
			user, _, err := lifecycle.CreateUser(tx, u.name, u.name+"@example.com", u.admin)
			if err != nil {
				return err
			}
			if u.pw {
				if err := tx.SetPasswordHash(user.ID, hash); err != nil {
					return err
				}
			}
			w.users[u.name] = user
		}
		for i, m := range []struct {
			host  string
			owner string
		}{{"ready1", ""}, {"bobs", "bob"}, {"alices", "alice"}} {
			by := w.users["alice"]
			if m.owner != "" {
				by = w.users[m.owner]
			}
			mac := fmt.Sprintf("02:00:00:00:00:%02x", i+1)
			mm, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: m.host, Architecture: "amd64/generic",
				MACs: []string{mac}, PowerType: "manual", Deployed: true}, by)
			if err != nil {
				return err
			}
			w.ids[m.host] = mm.SystemID
			if m.owner == "" {
				if err := lifecycle.Release(tx, mm, by, ""); err != nil {
					return err
				}
				if err := w.addRun(tx, mm); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	w.h = New(st, Options{FailedLoginDelay: time.Millisecond})
	w.srv = httptest.NewServer(api.New(st, api.Options{UI: w.h}))
	t.Cleanup(w.srv.Close)
	return w
}

// hostile is output that would run script if it were not escaped.
const hostile = `<script>alert("pwned")</script>`

// addRun gives m hardware and a finished commissioning run whose output is hostile HTML.
func (w *world) addRun(tx *store.Tx, m *store.Machine) error {
	m.CPUCount, m.Memory = 4, 8192
	m.NUMANodes = []store.NUMANode{{Index: 0, Cores: []int64{0, 1}, Memory: 4096}, {Index: 1, Cores: []int64{2, 3}, Memory: 4096}}
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	if err := tx.CreateBlockDevice(&store.BlockDevice{NodeID: m.ID, Name: "sda", Model: "QEMU HARDDISK", Serial: "QM0001",
		Size: 500e9, BlockSize: 512, NUMANode: 1}); err != nil {
		return err
	}
	set := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultCommissioning}
	if err := tx.CreateScriptSet(set); err != nil {
		return err
	}
	t0 := time.Now().Add(-time.Minute).UTC()
	zero := 0
	for i, name := range []string{"00-maas-01-cpuinfo", "00-maas-02-virtuality", "smartctl-validate"} {
		start, end := t0.Add(time.Duration(i*10)*time.Second), t0.Add(time.Duration(i*10+8)*time.Second)
		r := &store.ScriptResult{SetID: set.ID, ScriptName: name, Status: wire.ScriptPassed, ExitStatus: &zero,
			Started: &start, Ended: &end, Output: []byte("combined " + hostile), Stdout: []byte("out " + hostile),
			Stderr: []byte("err"), Result: []byte("status: passed\n")}
		if err := tx.CreateScriptResult(r); err != nil {
			return err
		}
		w.result = r.ID
	}
	m.CurrentCommissioningSet = &set.ID
	return tx.UpdateMachine(m)
}

// session makes a session for a user directly in the store and returns a client holding its
// cookie, and its CSRF token.
func (w *world) session(name string) (*client, string) {
	w.t.Helper()
	id, csrf := randomToken(), randomToken()
	now := time.Now()
	err := w.st.Update(context.Background(), func(tx *store.Tx) error {
		return tx.CreateSession(&store.Session{IDHash: store.HashSessionID(id), UserID: w.users[name].ID, CSRF: csrf,
			Created: now, Expires: now.Add(time.Hour)})
	})
	if err != nil {
		w.t.Fatal(err)
	}
	c := w.client()
	u, _ := url.Parse(w.srv.URL + "/MAAS/r/")
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: id, Path: cookiePath}})
	return c, csrf
}

// client is a browser-like HTTP client: cookies kept, redirects not followed.
type client struct {
	w  *world
	hc *http.Client
}

func (w *world) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{w: w, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type resp struct {
	code   int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values, hdr map[string]string) resp {
	c.w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.w.srv.URL+path, body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	r, err := c.hc.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{code: r.StatusCode, header: r.Header, body: string(b)}
}

// upload posts a raw body with its content type, from this site.
func (c *client) upload(path, contentType string, body io.Reader) resp {
	c.w.t.Helper()
	req, err := http.NewRequest("POST", c.w.srv.URL+path, body)
	if err != nil {
		c.w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", c.w.srv.URL)
	r, err := c.hc.Do(req)
	if err != nil {
		c.w.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{code: r.StatusCode, header: r.Header, body: string(b)}
}

func (c *client) get(path string) resp { return c.do("GET", path, nil, nil) }

func (c *client) post(path string, form url.Values) resp {
	return c.do("POST", path, form, map[string]string{"Origin": c.w.srv.URL})
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login logs in through the form as a browser does and reports the answer.
func (c *client) login(user, password string) resp {
	c.w.t.Helper()
	page := c.get("/MAAS/r/login")
	m := csrfRE.FindStringSubmatch(page.body)
	if page.code != 200 || m == nil {
		c.w.t.Fatalf("login page: %d %s", page.code, page.body)
	}
	return c.post("/MAAS/r/login", url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}, "next": {"/MAAS/r/machines"}})
}
