// Package netlimit bounds the connections a listener keeps open: in total, and from any one
// client address, so that neither a flood from one host nor many slow clients exhaust the
// process's file descriptors.
package netlimit

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// Limits are the bounds of a Listener. Zero means no bound.
type Limits struct {
	// Total bounds the connections open at once.
	Total int
	// PerAddress bounds the connections open at once from one client IP address. It should be
	// high enough for a rack of machines behind one NAT address.
	PerAddress int
	// Refused, when set, is told of each connection refused and why ("total" or "address").
	Refused func(addr net.Addr, why string)
}

// Listener accepts connections within Limits. A connection past a bound is answered with
// an HTTP 503 and closed at once, so its client learns why instead of timing out.
type Listener struct {
	net.Listener
	lim    Limits
	mu     sync.Mutex
	total  int
	byAddr map[string]int
}

// Wrap bounds ln's connections.
func Wrap(ln net.Listener, lim Limits) *Listener {
	return &Listener{Listener: ln, lim: lim, byAddr: map[string]int{}}
}

// refusal is what a refused connection is told.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: %d\r\n\r\n%s"

// Accept waits for a connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := hostOf(c.RemoteAddr())
		why := l.admit(host)
		if why == "" {
			return &conn{Conn: c, l: l, host: host}, nil
		}
		if l.lim.Refused != nil {
			l.lim.Refused(c.RemoteAddr(), why)
		}
		refuse(c, why) // inline: a new socket's send buffer takes the short answer at once
	}
}

func refuse(c net.Conn, why string) {
	msg := "Too many connections to the region"
	if why == "address" {
		msg += " from your address"
	}
	msg += "; try again shortly.\n"
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	c.Write([]byte(fmt.Sprintf(refusal, len(msg), msg)))
	c.Close()
}

// admit counts a connection from host, or says which bound refuses it.
func (l *Listener) admit(host string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lim.Total > 0 && l.total >= l.lim.Total {
		return "total"
	}
	if l.lim.PerAddress > 0 && l.byAddr[host] >= l.lim.PerAddress {
		return "address"
	}
	l.total++
	l.byAddr[host]++
	return ""
}

func (l *Listener) done(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byAddr[host]--; l.byAddr[host] <= 0 {
		delete(l.byAddr, host)
	}
}

// Open reports the connections open now, in total and from host.
func (l *Listener) Open(host string) (total, fromHost int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.byAddr[host]
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// conn gives its place back when closed.
type conn struct {
	net.Conn
	l    *Listener
	host string
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.host) })
	return err
}
