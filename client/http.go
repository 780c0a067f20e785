package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Options configure NewHTTPClient.
type Options struct {
	// Idle, when positive, is the longest a connection may go without a byte read or
	// written while a request waits on it (see NewHTTPClient).
	Idle time.Duration
	// TLS checks the region's certificate; nil: the system's authorities (see TLSConfig).
	TLS *tls.Config
}

// NewHTTPClient is an HTTP client for a region: proxies from the environment, 30 s to
// connect, 5 min for the region to start answering, and o.Idle (when positive) as the longest
// a connection may go without a byte read or written while a request waits on it. The idle
// timeout is not a limit on a whole request: a large download over a slow link goes on as
// long as bytes keep coming, but a region that stops sending in the middle of a body (or
// stops reading an upload) fails the request within o.Idle with an *IdleError. Redirects are
// not followed for requests with a body, so a POST never turns into a GET.
func NewHTTPClient(o Options) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = dialer.DialContext
	if o.Idle > 0 {
		idle := o.Idle
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: idle}, nil
		}
	}
	tr.DisableCompression = true
	tr.ResponseHeaderTimeout = 5 * time.Minute
	tr.MaxIdleConnsPerHost = 2
	if o.TLS != nil {
		tr.TLSClientConfig = o.TLS
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// idleConn is a connection whose every read and write must make progress within idle: each
// one moves the deadline of both directions to idle from now. Moving both matters: the
// transport's read of the answer is already pending while the request is written, and must
// not time out while the upload is still flowing.
type idleConn struct {
	net.Conn
	idle    time.Duration
	expired atomic.Bool // a read or a write passed the deadline
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

// wrap turns a passed deadline into an *IdleError. When one direction stalls, the transport
// closes the connection, and the other direction then fails with "use of closed network
// connection": that is the same stall, and is reported as one.
func (c *idleConn) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.expired.Store(true)
	case errors.Is(err, net.ErrClosed) && c.expired.Load():
	default:
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
