package apiclient

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"strings"
)

// Request is an API call ready to send (and to send again: the body is kept in memory).
type Request struct {
	Method      string
	URL         string // with the query string
	Body        []byte // nil: no body
	ContentType string
}

// NewRequest lays out a call as upstream's CLI does: for GET and DELETE, op and every field
// go in the query string (in argument order); otherwise op goes in the query string and the
// fields in a multipart/form-data body, files as file parts named after their field; with no
// fields there is no body at all.
func NewRequest(method, endpoint, op string, fields []Field) (*Request, error) {
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
		for _, f := range fields {
			q = append(q, url.QueryEscape(f.Name)+"="+url.QueryEscape(string(f.Value)))
		}
	} else if len(fields) > 0 {
		r.Body, r.ContentType, err = encodeMultipart(fields)
		if err != nil {
			return nil, err
		}
	}
	u.RawQuery = strings.Join(q, "&")
	u.Fragment = ""
	r.URL = u.String()
	return r, nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

func encodeMultipart(fields []Field) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		h := textproto.MIMEHeader{}
		name := quoteEscaper.Replace(f.Name)
		if f.File {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`, name, name))
			h.Set("Content-Type", "application/octet-stream")
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"`, name))
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", fmt.Errorf("encode %s: %w", f.Name, err)
		}
		if _, err := pw.Write(f.Value); err != nil {
			return nil, "", fmt.Errorf("encode %s: %w", f.Name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("encode body: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// HTTP builds a fresh *http.Request for one attempt.
func (r *Request) HTTP(ctx context.Context) (*http.Request, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if r.ContentType != "" {
		req.Header.Set("Content-Type", r.ContentType)
	}
	return req, nil
}

var apiVersionSuffix = regexp.MustCompile(`/api/[0-9.]+/?$`)

// APIURL normalises the URL given to login as upstream does: the path ends in "/", and
// "api/2.0/" is appended unless it already names an API version (".../api/2.0/").
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

// Endpoint joins a handler path from describe/ to the scheme and host of the profile's URL
// (the document's own "uri" names the host the region saw, which may differ).
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

// Relative resolves ref ("users/", "describe/") against the API URL.
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
