package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"maasgo/region/store"
)

const (
	sessionCookie   = "maas_session"
	loginCSRFCookie = "maas_login_csrf"
	// cookiePath scopes the cookies to the web interface: the API never sees them.
	cookiePath = "/MAAS/r/"
)

// randomToken is 32 random bytes, base64url-encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// authenticate finds the caller from the session cookie: a session that exists and has not
// expired makes its user the caller; anything else leaves the request anonymous.
func (h *Handler) authenticate(p *page) error {
	c, err := p.r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil
	}
	return h.st.View(p.ctx, func(tx *store.Tx) error {
		s, err := tx.SessionByHash(store.HashSessionID(c.Value))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if !h.now().Before(s.Expires) {
			return nil
		}
		u, err := tx.UserByID(s.UserID)
		if err != nil {
			return err
		}
		p.user, p.sess = u, s
		return nil
	})
}

func (p *page) setCookie(name, value, path string, expires time.Time, mode http.SameSite) {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, SameSite: mode, Secure: p.r.TLS != nil}
	if value == "" {
		c.MaxAge = -1
	} else if !expires.IsZero() {
		c.Expires = expires
	}
	http.SetCookie(p.w, c)
}

// safeNext keeps a post-login destination inside the interface.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/MAAS/r/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/MAAS/r/machines"
	}
	return next
}

// loginPage shows the login form. The form carries a token also set as a cookie (the login
// has no session yet to hold one), which the POST must match.
func loginPage(p *page) error {
	if p.user != nil {
		http.Redirect(p.w, p.r, safeNext(p.r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	return p.showLogin(http.StatusOK, "", "")
}

func (p *page) showLogin(code int, username, problem string) error {
	tok := randomToken()
	p.setCookie(loginCSRFCookie, tok, "/MAAS/r/login", time.Time{}, http.SameSiteStrictMode)
	next := p.r.FormValue("next")
	p.render(code, "login", map[string]any{"Title": "Log in", "CSRF": tok, "Next": safeNext(next),
		"Username": username, "Problem": problem})
	return nil
}

// login checks a username and password and starts a session. Failures wait a while before
// they answer, and too many of them for one username or from one address refuse further
// tries for a time.
func login(p *page) error {
	c, err := p.r.Cookie(loginCSRFCookie)
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(p.r.PostFormValue("csrf"))) != 1 || c.Value == "" {
		return statusErrorf(http.StatusForbidden, "The login form expired or did not come from this site: reload the login page and try again.")
	}
	username := strings.TrimSpace(p.r.PostFormValue("username"))
	if len(username) > maxUsername {
		username = username[:maxUsername] // no user has a longer name; bounds the limiter's keys
	}
	password := p.r.PostFormValue("password")
	ip := clientIP(p.r)
	if wait := p.h.logins.blocked(username, ip); wait > 0 {
		p.w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		return p.showLogin(http.StatusTooManyRequests, username,
			fmt.Sprintf("Too many failed logins: try again in %d minutes.", int(wait.Minutes())+1))
	}
	var u *store.User
	var hash string
	err = p.h.st.View(p.ctx, func(tx *store.Tx) error {
		var err error
		u, err = tx.UserByName(username)
		if errors.Is(err, store.ErrNotFound) {
			u = nil
			return nil
		}
		if err != nil {
			return err
		}
		hash, err = tx.PasswordHash(u.ID)
		return err
	})
	if err != nil {
		return err
	}
	select {
	case p.h.hashing <- struct{}{}:
	case <-time.After(5 * time.Second):
		return statusErrorf(http.StatusServiceUnavailable, "The region is busy checking other logins; try again.")
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
	ok := store.CheckPassword(hash, password) // a missing user or password costs as much
	<-p.h.hashing
	if !ok || u == nil {
		p.h.logins.fail(username, ip)
		p.h.log().Info("failed web login", "username", username, "from", ip)
		select {
		case <-time.After(p.h.opts.FailedLoginDelay):
		case <-p.ctx.Done():
		}
		return p.showLogin(http.StatusUnauthorized, username, "Wrong username or password.")
	}
	p.h.logins.succeed(username)
	id := randomToken()
	now := p.h.now()
	s := &store.Session{IDHash: store.HashSessionID(id), UserID: u.ID, CSRF: randomToken(), Created: now, Expires: now.Add(p.h.opts.SessionTTL)}
	err = p.h.st.Update(p.ctx, func(tx *store.Tx) error {
		if _, err := tx.PruneSessions(now); err != nil {
			return err
		}
		return tx.CreateSession(s)
	})
	if err != nil {
		return err
	}
	p.setCookie(loginCSRFCookie, "", "/MAAS/r/login", time.Time{}, http.SameSiteStrictMode)
	p.setCookie(sessionCookie, id, cookiePath, s.Expires, http.SameSiteLaxMode)
	http.Redirect(p.w, p.r, safeNext(p.r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

// maxUsername is the longest username (lifecycle.ValidateUsername allows 150 characters).
const maxUsername = 600

// logout ends the session.
func logout(p *page) error {
	if err := p.h.st.Update(p.ctx, func(tx *store.Tx) error { return tx.DeleteSession(p.sess.IDHash) }); err != nil {
		return err
	}
	p.setCookie(sessionCookie, "", cookiePath, time.Time{}, http.SameSiteLaxMode)
	http.Redirect(p.w, p.r, "/MAAS/r/login", http.StatusSeeOther)
	return nil
}

// clientIP is the peer's address (without port).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// Failed logins allowed within loginWindow, per username and per client address, before
// further tries are refused until the window ends.
const (
	loginWindow       = 15 * time.Minute
	maxFailsPerUser   = 5
	maxFailsPerAddr   = 20
	maxLimiterEntries = 10000
)

// loginLimiter counts failed logins in memory (each region process its own), by username and
// by address, bounded in size.
type loginLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	fails map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, fails: map[string]*failures{}}
}

// blocked says how long logins for username or from ip stay refused (0: not refused).
func (l *loginLimiter) blocked(username, ip string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var wait time.Duration
	for key, max := range map[string]int{"u:" + username: maxFailsPerUser, "a:" + ip: maxFailsPerAddr} {
		f := l.fails[key]
		if f == nil {
			continue
		}
		if end := f.first.Add(loginWindow); !now.Before(end) {
			delete(l.fails, key)
		} else if f.n >= max {
			wait = max2(wait, end.Sub(now))
		}
	}
	return wait
}

func max2(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func (l *loginLimiter) fail(username, ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.fails) >= maxLimiterEntries {
		for k, f := range l.fails {
			if !now.Before(f.first.Add(loginWindow)) {
				delete(l.fails, k)
			}
		}
		if len(l.fails) >= maxLimiterEntries {
			l.fails = map[string]*failures{} // bounded memory wins over memory of old failures
		}
	}
	for _, key := range []string{"u:" + username, "a:" + ip} {
		f := l.fails[key]
		if f == nil || !now.Before(f.first.Add(loginWindow)) {
			f = &failures{first: now}
			l.fails[key] = f
		}
		f.n++
	}
}

// succeed forgets a username's failures (the address's stay).
func (l *loginLimiter) succeed(username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, "u:"+username)
}
