package client

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// NewAPIRequest lays out an API 2.0 call as upstream's CLI does: for GET and DELETE, op and
// every part go in the query string, in order; otherwise op goes in the query string and the
// parts in a multipart/form-data body (see Multipart); with no parts there is no body at all.
// endpoint is the handler's URL (APIURL, Endpoint, Relative); its own query is replaced.
func NewAPIRequest(method, endpoint, op string, parts []Part) (*Request, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("bad endpoint %q: %w", endpoint, err)
	}
	var q []string
	if op != "" {
		q = append(q, "op="+url.QueryEscape(op))
	}
	r := &Request{Method: method}
	if method == http.MethodGet || method == http.MethodDelete {
		for _, p := range parts {
			if p.Path != "" {
				return nil, fmt.Errorf("%s: a file cannot be sent in a query string", p.Name)
			}
			q = append(q, url.QueryEscape(p.Name)+"="+url.QueryEscape(p.Value))
		}
	} else if len(parts) > 0 {
		r.Body = Multipart(parts)
	}
	u.RawQuery = strings.Join(q, "&")
	u.Fragment = ""
	r.URL = u.String()
	return r, nil
}

var apiVersionSuffix = regexp.MustCompile(`/api/[0-9.]+/?$`)

// APIURL normalises a region's URL as upstream's CLI does at login: the path ends in "/",
// and "api/2.0/" is appended unless it already names an API version
// (http://10.0.0.2:5240/MAAS → http://10.0.0.2:5240/MAAS/api/2.0/).
func APIURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("bad URL %q: want http:// or https:// and a host, e.g. http://region:5240/MAAS", s)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if !apiVersionSuffix.MatchString(u.Path) {
		u.Path += "api/2.0/"
	}
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// Endpoint joins a handler path from describe/ to the scheme and host of the API URL (the
// document's own "uri" names the host the region saw, which may differ).
func Endpoint(apiURL, path string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return "", fmt.Errorf("bad profile URL %q: %w", apiURL, err)
	}
	p, err := url.Parse(path)
	if err != nil || p.Scheme != "" || p.Host != "" || !strings.HasPrefix(p.Path, "/") {
		return "", fmt.Errorf("bad handler path %q", path)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, User: u.User, Path: p.Path, RawPath: p.RawPath}).String(), nil
}

// Relative resolves ref ("users/", "machines/abc/") against the API URL.
func Relative(apiURL, ref string) (string, error) {
	u, err := url.Parse(apiURL)
	if err != nil {
		return "", fmt.Errorf("bad profile URL %q: %w", apiURL, err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("bad reference %q: %w", ref, err)
	}
	return u.ResolveReference(r).String(), nil
}
