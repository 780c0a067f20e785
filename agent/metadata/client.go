// Package metadata is the runner's HTTP client of the region's metadata API: the scripts tar
// download and the op=signal upload, signed with PLAINTEXT OAuth and encoded as upstream's
// clients encode them (protocol.md §2.3, §3.1, §4.2, §4.3). File parts are streamed from disk,
// so an upload's memory does not grow with the output it carries.
package metadata

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"maasgo/agent"
	"maasgo/wire"
)

// Client talks to one region's metadata API. It implements agent.Region.
type Client struct {
	// URL is the versioned metadata URL, ending in "/":
	// http://10.0.0.2:5248/MAAS/metadata/2012-03-01/.
	URL string
	// Signer signs requests and learns the region's clock skew.
	Signer *wire.Signer
	// HTTP is the HTTP client. Nil: DefaultHTTPClient (an idle timeout on every read and
	// write, no overall timeout: uploads may be large).
	HTTP *http.Client
	// UserAgent is sent with every request.
	UserAgent string
}

var _ agent.Region = (*Client)(nil)

// New returns a client of the versioned metadata URL u, signing with creds.
func New(u string, creds wire.Credentials) *Client {
	return &Client{URL: u, Signer: &wire.Signer{Creds: creds}, HTTP: DefaultHTTPClient(), UserAgent: "maas-run-scripts"}
}

// DefaultHTTPClient is NewHTTPClient(agent.DefaultIdleTimeout).
func DefaultHTTPClient() *http.Client { return NewHTTPClient(agent.DefaultIdleTimeout) }

// NewHTTPClient is an HTTP client for the runner: proxies from the environment, 30 s to
// connect, 5 min for the region to start answering, and idle (when positive) as the longest
// a connection may go without a byte read or written while a request waits on it. The idle
// timeout is not a limit on a whole request: a large download over a slow link goes on as
// long as bytes keep coming, but a region that stops sending in the middle of a body (or
// stops reading an upload) fails the request within idle, and the caller retries it.
func NewHTTPClient(idle time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = dialer.DialContext
	if idle > 0 {
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: idle}, nil
		}
	}
	tr.ResponseHeaderTimeout = 5 * time.Minute
	tr.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: tr}
}

// idleConn is a connection whose every read and write must make progress within idle: each
// one moves the deadline of both directions to idle from now. Moving both matters: the
// transport's read of the answer is already pending while the request is written, and must
// not time out while the upload is still flowing.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Read(p)
	return n, c.wrap("read from", err)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Write(p)
	return n, c.wrap("write to", err)
}

func (c *idleConn) wrap(op string, err error) error {
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return &IdleError{Op: op, Addr: c.RemoteAddr().String(), Idle: c.idle, Err: err}
}

// IdleError says a connection stalled: nothing was read or written for Idle.
type IdleError struct {
	Op   string // "read from" or "write to"
	Addr string
	Idle time.Duration
	Err  error
}

func (e *IdleError) Error() string {
	return fmt.Sprintf("%s %s: stalled, nothing for %s (idle timeout)", e.Op, e.Addr, e.Idle)
}

func (e *IdleError) Unwrap() error { return e.Err }

// Timeout and Temporary make an IdleError a net.Error that timed out, as the deadline error
// it wraps.
func (e *IdleError) Timeout() bool   { return true }
func (e *IdleError) Temporary() bool { return true }

func (c *Client) client() *http.Client {
	if c.HTTP == nil {
		return DefaultHTTPClient()
	}
	return c.HTTP
}

func (c *Client) newRequest(ctx context.Context, method, u string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	req.Header.Set("Accept-Encoding", "identity")
	if c.Signer != nil {
		c.Signer.Sign(req)
	}
	return req, nil
}

// Scripts implements agent.Region: GET <URL>maas-scripts.
func (c *Client) Scripts(ctx context.Context) (io.ReadCloser, bool, error) {
	req, err := c.newRequest(ctx, http.MethodGet, c.URL+"maas-scripts", nil)
	if err != nil {
		return nil, false, fmt.Errorf("download scripts: %w", err)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("download scripts: %w", err)
	}
	if c.Signer != nil {
		c.Signer.Observe(resp)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, true, nil
	case http.StatusNoContent:
		resp.Body.Close()
		return nil, false, nil
	}
	defer resp.Body.Close()
	return nil, false, fmt.Errorf("download scripts: %w", readHTTPError(resp))
}

// Signal implements agent.Region: POST <URL> with op=signal in a multipart body.
func (c *Client) Signal(ctx context.Context, sig agent.Signal, idempotencyKey string) error {
	body, err := NewMultipart(sig.Fields(), sig.Files)
	if err != nil {
		return fmt.Errorf("signal %s: %w", sig.Status, err)
	}
	defer body.Close()
	req, err := c.newRequest(ctx, http.MethodPost, c.URL, body)
	if err != nil {
		return fmt.Errorf("signal %s: %w", sig.Status, err)
	}
	req.ContentLength = body.Len()
	req.Header.Set("Content-Type", body.ContentType())
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return fmt.Errorf("signal %s: %w", sig.Status, err)
	}
	defer resp.Body.Close()
	if c.Signer != nil {
		c.Signer.Observe(resp)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("signal %s: %w", sig.Status, readHTTPError(resp))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

func readHTTPError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return &agent.HTTPError{StatusCode: resp.StatusCode, Body: string(b)}
}

// Multipart is a multipart/form-data body in upstream's encoding (protocol.md §3.1): an
// unquoted boundary of 31 ASCII letters, the fields first, then the files, each file part
// with name and filename equal and Content-Type application/octet-stream, CRLF line ends, and
// a known length. The files are read as the body is read.
type Multipart struct {
	boundary string
	length   int64
	r        io.Reader
	files    []*os.File
}

// NewMultipart opens the files and prepares the body. Close releases the files.
func NewMultipart(fields []agent.Field, files []agent.File) (*Multipart, error) {
	m := &Multipart{boundary: randomBoundary()}
	var readers []io.Reader
	add := func(s string) {
		readers = append(readers, strings.NewReader(s))
		m.length += int64(len(s))
	}
	for _, f := range fields {
		add("--" + m.boundary + "\r\nContent-Disposition: form-data; name=\"" + f.Name + "\"\r\n\r\n" + f.Value + "\r\n")
	}
	for _, f := range files {
		fh, err := os.Open(f.Path)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.files = append(m.files, fh)
		fi, err := fh.Stat()
		if err != nil {
			m.Close()
			return nil, err
		}
		add("--" + m.boundary + "\r\nContent-Disposition: form-data; name=\"" + f.Name + "\"; filename=\"" + f.Name +
			"\"\r\nContent-Type: application/octet-stream\r\n\r\n")
		readers = append(readers, &exactReader{r: fh, n: fi.Size(), name: f.Path})
		m.length += fi.Size()
		add("\r\n")
	}
	add("--" + m.boundary + "--\r\n")
	m.r = io.MultiReader(readers...)
	return m, nil
}

func (m *Multipart) Read(p []byte) (int, error) { return m.r.Read(p) }

// Len is the body's length in bytes.
func (m *Multipart) Len() int64 { return m.length }

// ContentType is the Content-Type header value.
func (m *Multipart) ContentType() string { return "multipart/form-data; boundary=" + m.boundary }

// Close closes the files.
func (m *Multipart) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	m.files = nil
	return errors.Join(errs...)
}

// exactReader reads exactly n bytes of a file whose size was measured, failing rather than
// sending a body whose length does not match its header.
type exactReader struct {
	r    io.Reader
	n    int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.n > 0 {
			return n, fmt.Errorf("%s shrank while it was sent", e.name)
		}
		err = nil
	}
	return n, err
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func randomBoundary() string {
	b := make([]byte, 31)
	max := big.NewInt(int64(len(letters)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			n = big.NewInt(time.Now().UnixNano() % int64(len(letters)))
		}
		b[i] = letters[n.Int64()]
	}
	return string(b)
}
