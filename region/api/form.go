package api

import (
	"bufio"
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
	"sync"
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
	// bodyRead is set once the body was read.
	bodyRead bool
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

// tooLargeError says which bound a request body passed (413).
type tooLargeError struct {
	what  string
	limit int64
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("%s larger than the limit of %d bytes", e.what, e.limit)
}

// errBodyTooLarge matches every *tooLargeError with errors.Is.
var errBodyTooLarge = errors.New("request body too large")

func (e *tooLargeError) Is(target error) bool { return target == errBodyTooLarge }

// bodyLimits bound what is read of a request body. Memory per request is bounded by fields
// plus files: the body is never held whole, and each part is decoded as it is read.
type bodyLimits struct {
	// body bounds the bytes read from the connection (the --max-body option).
	body int64
	// fields bounds urlencoded bodies and multipart fields (parts without a filename).
	fields int64
	// files bounds the decoded multipart files together; 0 refuses files.
	files int64
	// json bounds an application/json body; 0 refuses one.
	json int64
}

// parseQuery reads a request's query string into new Params; the body is left unread.
func parseQuery(r *http.Request) (*Params, error) {
	p := &Params{Files: map[string][]byte{}, BodyValues: url.Values{}}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %w", err)
	}
	p.Values = q
	return p, nil
}

// parseParams reads the query and the body through one limit. Tests and fuzzers use it; the
// server reads the query first and the body only once the request is authenticated.
func parseParams(r *http.Request, limit int64, acceptJSON bool) (*Params, error) {
	p, err := parseQuery(r)
	if err != nil {
		return nil, err
	}
	lim := bodyLimits{body: limit, fields: limit, files: limit}
	if acceptJSON {
		lim.json = limit
	}
	if err := p.readBody(r, lim); err != nil {
		return nil, err
	}
	return p, nil
}

// isForm reports whether the body is urlencoded, which OAuth HMAC-SHA1 signs.
func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return hasBody(r)
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

func hasBody(r *http.Request) bool { return r.Body != nil && r.Body != http.NoBody }

// readBody reads the body's fields and files into p within lim. It reads the body once; a
// second call does nothing.
func (p *Params) readBody(r *http.Request, lim bodyLimits) error {
	if p.bodyRead || !hasBody(r) {
		return nil
	}
	p.bodyRead = true
	if r.ContentLength > lim.body {
		return &tooLargeError{"request body", lim.body}
	}
	body := bufio.NewReader(&limitedReader{r: r.Body, n: lim.body, err: &tooLargeError{"request body", lim.body}})
	if _, err := body.Peek(1); err == io.EOF {
		return nil // an empty body, whatever its type, says nothing
	}
	ct := r.Header.Get("Content-Type")
	mt, mp, err := mime.ParseMediaType(ct)
	if err != nil {
		if ct != "" {
			return fmt.Errorf("malformed Content-Type %q: %w", ct, err)
		}
		// Clients that forget the header send urlencoded forms.
		mt = "application/x-www-form-urlencoded"
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		b, err := readAtMost(body, lim.fields, "form fields")
		if err != nil {
			return err
		}
		vals, err := url.ParseQuery(string(b))
		if err != nil {
			return fmt.Errorf("malformed urlencoded body: %w", err)
		}
		for k, vs := range vals {
			p.Values[k] = append(p.Values[k], vs...)
			p.BodyValues[k] = vs
		}
	case "multipart/form-data":
		return parseMultipart(body, mp["boundary"], lim, p)
	case "application/json":
		if lim.json == 0 {
			return fmt.Errorf("unsupported Content-Type %q (want multipart/form-data or application/x-www-form-urlencoded)", mt)
		}
		b, err := readAtMost(body, lim.json, "JSON body")
		if err != nil {
			return err
		}
		p.JSON = b
	default:
		if b, err := readAtMost(body, 1, "body"); err == nil && len(bytes.TrimSpace(b)) == 0 {
			return nil // an empty body of any type says nothing
		}
		return fmt.Errorf("unsupported Content-Type %q (want multipart/form-data or application/x-www-form-urlencoded)", mt)
	}
	return nil
}

// limitedReader reads at most n bytes and then fails with err (http.MaxBytesReader without
// its connection handling, so the caller chooses the message).
type limitedReader struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.n <= 0 {
		// One byte more tells a body of exactly n bytes from a longer one.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, l.err
		}
		return 0, io.EOF
	}
	if int64(len(b)) > l.n {
		b = b[:l.n]
	}
	n, err := l.r.Read(b)
	l.n -= int64(n)
	return n, err
}

// readAtMost reads r to its end, failing with a *tooLargeError naming what when it holds more
// than limit bytes. It reads into chunks and copies them once into a slice of the exact size,
// so what it keeps is what was sent (a growing buffer would keep up to twice that). The first
// chunk is a pooled buffer: most parts are a few KiB, and clearing a new 32 KiB slice for each
// cost more than reading it.
func readAtMost(r io.Reader, limit int64, what string) ([]byte, error) {
	sp := scratch.Get().(*[]byte)
	defer scratch.Put(sp)
	buf := *sp
	if limit < int64(len(buf)) {
		buf = buf[:max(limit, 0)+1]
	}
	n, err := io.ReadFull(r, buf)
	if int64(n) > limit {
		return nil, &tooLargeError{what, limit}
	}
	first := make([]byte, n)
	copy(first, buf[:n])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return first, nil
	case err != nil:
		return nil, readError(err, what)
	}
	chunks, total := [][]byte{first}, int64(n)
	size := min(2*len(buf), 4<<20, int(limit-total)+1)
	for {
		c := make([]byte, size)
		n, err := io.ReadFull(r, c)
		if n > 0 {
			chunks = append(chunks, c[:n])
			if total += int64(n); total > limit {
				return nil, &tooLargeError{what, limit}
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, readError(err, what)
		}
		size = min(size*2, 4<<20, int(limit-total)+1)
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// scratch holds the first chunks readAtMost reads into.
var scratch = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readError is a failed read of what: a *tooLargeError as it is, anything else named.
func readError(err error, what string) error {
	var tl *tooLargeError
	if errors.As(err, &tl) {
		return err
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// parseMultipart reads every part of a multipart/form-data body as it arrives. Parts with a
// filename are files; others are fields. Parts with Content-Transfer-Encoding base64 (the
// upstream CLI encodes every part so) or quoted-printable are decoded while they are read.
func parseMultipart(body io.Reader, boundary string, lim bodyLimits, p *Params) error {
	if boundary == "" {
		return errors.New("multipart body without a boundary")
	}
	mr := multipart.NewReader(body, boundary)
	fields, files := lim.fields, lim.files
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var tl *tooLargeError
			if errors.As(err, &tl) {
				return err
			}
			return fmt.Errorf("malformed multipart body: %w", err)
		}
		name := part.FormName()
		if name == "" {
			part.Close()
			return errors.New("malformed multipart body: a part has no name")
		}
		var src io.Reader = part
		switch cte := strings.ToLower(strings.TrimSpace(part.Header.Get("Content-Transfer-Encoding"))); cte {
		case "base64":
			src = base64.NewDecoder(base64.StdEncoding, &spaceless{r: part})
		case "quoted-printable":
			src = quotedprintable.NewReader(part)
		case "", "7bit", "8bit", "binary":
		default:
			part.Close()
			return fmt.Errorf("unsupported Content-Transfer-Encoding %q in part %q", part.Header.Get("Content-Transfer-Encoding"), name)
		}
		isFile := part.FileName() != ""
		budget, what := &fields, "form fields"
		if isFile {
			budget, what = &files, "uploaded files"
		}
		data, err := readAtMost(src, *budget, what)
		part.Close()
		if err != nil {
			var tl *tooLargeError
			if errors.As(err, &tl) {
				tl.limit = lim.fields
				if isFile {
					tl.limit = lim.files
				}
				return tl
			}
			return fmt.Errorf("malformed multipart body in part %q: %w", name, err)
		}
		*budget -= int64(len(data))
		if isFile {
			p.Files[name] = data
			continue
		}
		p.Values[name] = append(p.Values[name], string(data))
	}
}

// spaceless drops the line breaks and blanks that base64 parts are wrapped with.
type spaceless struct{ r io.Reader }

func (s *spaceless) Read(b []byte) (int, error) {
	for {
		n, err := s.r.Read(b)
		j := 0
		for _, c := range b[:n] {
			switch c {
			case ' ', '\t', '\r', '\n':
			default:
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}
