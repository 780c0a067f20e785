// Package client is the one signed HTTP client of a MAAS region, shared by the maas CLI, the
// in-machine runner, hack/ and the tests: OAuth 1.0 PLAINTEXT signing as upstream's clients
// sign (wire.Signer), the clock-skew correction a 401's Date header teaches (protocol.md §2.3),
// one error type for unexpected answers, API 2.0 requests laid out as upstream's CLI lays them
// out, the machines' metadata API, and multipart/form-data bodies encoded by mime/multipart
// whose files stream from disk with an exact Content-Length.
//
// The HTTP client NewHTTPClient returns can fail any connection that stalls for an idle
// timeout, so a region that stops answering in the middle of a body does not hold the caller.
// Retries beyond the one clock-skew retry (backoff, idempotency keys, journals) are the
// caller's.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"maasgo/wire"
)

// Client sends requests to a region, signed when it has a Signer. It is safe for concurrent
// use.
type Client struct {
	// HTTP is the HTTP client. Nil: http.DefaultClient.
	HTTP *http.Client
	// Signer signs every attempt and learns the region's clock skew; nil sends anonymous
	// requests.
	Signer *wire.Signer
	// UserAgent, when set, is sent with every request.
	UserAgent string
}

// New returns a client that signs with creds (anonymous credentials sign nothing) over hc
// (nil: http.DefaultClient).
func New(creds wire.Credentials, hc *http.Client) *Client {
	return &Client{HTTP: hc, Signer: &wire.Signer{Creds: creds}}
}

// Request is one call. Its Body is opened anew for each attempt, so Do can send it twice.
type Request struct {
	Method string
	// URL is the whole URL, query string included.
	URL string
	// Header holds extra headers for every attempt (an Idempotency-Key, say).
	Header http.Header
	// Body is the request's body; nil sends none.
	Body Body
}

// Send signs req and sends it once, reading in the answer the region's clock skew (see
// wire.Signer.Observe). It sets Accept-Encoding: identity and the User-Agent unless req
// has its own. The caller closes the response body.
func (c *Client) Send(req *http.Request) (*http.Response, error) {
	resp, _, err := c.send(req)
	return resp, err
}

// send is Send that also reports whether the answer taught the signer a new clock skew.
func (c *Client) send(req *http.Request) (resp *http.Response, learnt bool, err error) {
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	if c.UserAgent != "" && req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	if c.Signer != nil {
		c.Signer.Sign(req)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err = hc.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", req.Method, redact(req.URL), unwrapURLError(err))
	}
	return resp, c.Signer != nil && c.Signer.Observe(resp), nil
}

// Do sends r. A 401 whose Date header changes the learnt clock skew is sent once more with
// the corrected timestamp (protocol.md §2.3); a second 401 is returned as it is. The caller
// closes the response body.
func (c *Client) Do(ctx context.Context, r *Request) (*http.Response, error) {
	resp, learnt, err := c.attempt(ctx, r)
	if err != nil || !learnt || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	drain(resp)
	resp, _, err = c.attempt(ctx, r)
	return resp, err
}

// attempt sends r once.
func (c *Client) attempt(ctx context.Context, r *Request) (*http.Response, bool, error) {
	req, err := r.HTTP(ctx)
	if err != nil {
		return nil, false, err
	}
	return c.send(req)
}

// HTTP builds one attempt of r: an *http.Request with a fresh body of exact length, ready
// for Send.
func (r *Request) HTTP(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if r.Body == nil {
		return req, nil
	}
	body, length, contentType, err := r.Body.Open()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, redact(req.URL), err)
	}
	req.Header.Set("Content-Type", contentType)
	req.ContentLength = length
	req.Body = body
	if length == 0 {
		body.Close()
		req.Body = http.NoBody
	}
	return req, nil
}

// maxAnswer bounds the answers Call reads.
const maxAnswer = 64 << 20

// Call is Do that reads the answer: the body of a 2xx, or an *Error for any other status.
func (c *Client) Call(ctx context.Context, r *Request) ([]byte, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, readError(resp)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read the answer: %w", r.Method, redact(resp.Request.URL), err)
	}
	if len(b) > maxAnswer {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", r.Method, redact(resp.Request.URL), maxAnswer)
	}
	return b, nil
}

// Error is an answer other than the one expected: its status and the start of its body.
type Error struct {
	StatusCode int
	Body       string
}

func (e *Error) Error() string {
	msg := "region answered " + strconv.Itoa(e.StatusCode)
	if d := e.Message(); d != "" {
		msg += ": " + d
	}
	return msg
}

// Message renders the body on one line: a form's field errors (upstream's 400 answer) as
// "field: message; …", anything else as its first line, cut at 300 bytes.
func (e *Error) Message() string {
	var fields wire.FieldErrors
	if json.Unmarshal([]byte(e.Body), &fields) == nil && len(fields) > 0 {
		return fields.Error()
	}
	line, _, _ := strings.Cut(strings.TrimSpace(e.Body), "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// maxErrorBody bounds what an Error keeps of a body.
const maxErrorBody = 64 << 10

// readError reads resp's body (the caller closes it) into an *Error.
func readError(resp *http.Response) *Error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &Error{StatusCode: resp.StatusCode, Body: string(b)}
}

// drain reads a little of an answer that is not wanted, so its connection can be reused, and
// closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}

// redact names a URL without its query string (which may carry values the user would rather
// not see echoed).
func redact(u *url.URL) string {
	v := *u
	v.RawQuery = ""
	return v.String()
}

// unwrapURLError drops *url.Error's `Get "URL":` prefix; the caller names the request.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
