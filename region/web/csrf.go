package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
)

// checkOrigin refuses a POST that a browser says came from another site: its Origin (or,
// without one, its Referer) must name this host, and Sec-Fetch-Site, when sent, must not be
// cross-site. A request with none of these (not a browser's) relies on the CSRF token alone.
func checkOrigin(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return statusErrorf(http.StatusForbidden, "Cross-site request refused.")
	}
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
	}
	if from == "" {
		return nil
	}
	u, err := url.Parse(from)
	if err != nil || u.Host == "" || !sameHost(r, u.Host) {
		return statusErrorf(http.StatusForbidden, "Cross-site request refused: it came from %s.", from)
	}
	return nil
}

// sameHost reports whether host is the one the request was sent to (or the one a proxy in
// front of the region says it was).
func sameHost(r *http.Request, host string) bool {
	if strings.EqualFold(host, r.Host) {
		return true
	}
	fwd := r.Header.Get("X-Forwarded-Host")
	return fwd != "" && strings.EqualFold(host, fwd)
}

// checkCSRF checks that a POST carries its session's CSRF token.
func checkCSRF(p *page) error {
	if p.sess == nil {
		return statusErrorf(http.StatusForbidden, "Log in first: this action needs a session.")
	}
	got := p.r.PostFormValue("csrf")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.sess.CSRF)) != 1 {
		return statusErrorf(http.StatusForbidden, "The form's CSRF token is missing or wrong: reload the page and try again.")
	}
	return nil
}
