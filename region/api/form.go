package api

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Params are a request's parameters: the query string, then the body's fields (urlencoded or
// multipart), and the body's file parts.
type Params struct {
	Values url.Values
	Files  map[string][]byte
	// BodyValues are the urlencoded body fields alone: OAuth HMAC-SHA1 signs them.
	BodyValues url.Values
	// JSON is the body of a request sent as application/json, when the caller accepts one.
	JSON []byte
}

// Get returns the first value of a field, or "".
func (p *Params) Get(name string) string { return p.Values.Get(name) }

// Has reports whether the field was sent at all (possibly empty).
func (p *Params) Has(name string) bool {
	_, ok := p.Values[name]
	return ok
}

// List returns every value of a field, with comma-separated values split and blanks dropped.
func (p *Params) List(name string) []string {
	var out []string
	for _, v := range p.Values[name] {
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

// Bool reads a boolean field as upstream's forms do (true/false, yes/no, on/off, 1/0, any case).
// def is returned when the field is absent or empty.
func (p *Params) Bool(name string, def bool) (bool, error) {
	v := strings.TrimSpace(p.Get(name))
	if v == "" {
		return def, nil
	}
	b, ok := parseBool(v)
	if !ok {
		return false, fieldError(name, fmt.Sprintf("%q is not a boolean (use true or false)", v))
	}
	return b, nil
}

// Int reads an integer field; def when absent or empty.
func (p *Params) Int(name string, def int64) (int64, error) {
	v := strings.TrimSpace(p.Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fieldError(name, fmt.Sprintf("%q is not a whole number", v))
	}
	return n, nil
}

// File returns a file part by field name, or the plain field's value when the client sent the
// content as a field (the seed's `script=…` after the CLI read the file).
func (p *Params) File(name string) ([]byte, bool) {
	if b, ok := p.Files[name]; ok {
		return b, true
	}
	if p.Has(name) {
		return []byte(p.Get(name)), true
	}
	return nil, false
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "t", "yes", "y", "on":
		return true, true
	case "0", "false", "f", "no", "n", "off":
		return false, true
	}
	return false, false
}

// errBodyTooLarge is returned when a body passes the configured limit.
var errBodyTooLarge = errors.New("request body too large")

// parseParams reads the query and, for requests with a body, the body. The body is read
// through limit bytes at most. A JSON body is kept whole when acceptJSON is set and refused
// otherwise.
func parseParams(r *http.Request, limit int64, acceptJSON bool) (*Params, error) {
	p := &Params{Files: map[string][]byte{}, BodyValues: url.Values{}}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %w", err)
	}
	p.Values = q
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, errBodyTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, mp, err := mime.ParseMediaType(ct)
	if err != nil {
		if ct == "" {
			// Clients that forget the header send urlencoded forms.
			mt = "application/x-www-form-urlencoded"
		} else {
			return nil, fmt.Errorf("malformed Content-Type %q: %w", ct, err)
		}
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("malformed urlencoded body: %w", err)
		}
		for k, vs := range vals {
			p.Values[k] = append(p.Values[k], vs...)
			p.BodyValues[k] = vs
		}
	case "multipart/form-data":
		if err := parseMultipart(body, mp["boundary"], p); err != nil {
			return nil, err
		}
	case "application/json":
		if !acceptJSON {
			return nil, fmt.Errorf("unsupported Content-Type %q (want multipart/form-data or application/x-www-form-urlencoded)", mt)
		}
		p.JSON = body
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q (want multipart/form-data or application/x-www-form-urlencoded)", mt)
	}
	return p, nil
}

// parseMultipart reads every part of a multipart/form-data body. Parts with a filename are
// files; others are fields. Parts with Content-Transfer-Encoding base64 (the upstream CLI
// encodes every part so) are decoded.
func parseMultipart(body []byte, boundary string, p *Params) error {
	if boundary == "" {
		return errors.New("multipart body without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("malformed multipart body: %w", err)
		}
		name := part.FormName()
		if name == "" {
			part.Close()
			return errors.New("malformed multipart body: a part has no name")
		}
		data, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			return fmt.Errorf("malformed multipart body in part %q: %w", name, err)
		}
		switch strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))) {
		case "base64":
			dec, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(data), nil)))
			if err != nil {
				return fmt.Errorf("malformed base64 in multipart part %q: %w", name, err)
			}
			data = dec
		case "quoted-printable":
			dec, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(data)))
			if err != nil {
				return fmt.Errorf("malformed quoted-printable in multipart part %q: %w", name, err)
			}
			data = dec
		case "", "7bit", "8bit", "binary":
		default:
			return fmt.Errorf("unsupported Content-Transfer-Encoding %q in part %q", part.Header.Get("Content-Transfer-Encoding"), name)
		}
		if part.FileName() != "" {
			p.Files[name] = data
			continue
		}
		p.Values[name] = append(p.Values[name], string(data))
	}
}
