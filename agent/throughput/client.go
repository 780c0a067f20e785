package throughput

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options say how the client reaches the server.
type Options struct {
	// Interface is the interface every connection is bound to (SO_BINDTODEVICE, which
	// needs CAP_NET_RAW); "" leaves the choice to the routing table.
	Interface string
	// Peer is the server's host:port.
	Peer string
	// DialTimeout bounds the connection; 0 means 10 s.
	DialTimeout time.Duration
	// TurnWait bounds the wait for the server's answer, which comes when the server has a
	// free turn; 0 means 90 s (the server's default queue is one minute).
	TurnWait time.Duration
	// IdleTimeout is the longest silence within the measurement; 0 means 10 s.
	IdleTimeout time.Duration
}

// Send measures the client-to-server direction for d: the client sends, the server counts.
func Send(ctx context.Context, o Options, d time.Duration) (Measurement, error) {
	return o.measure(ctx, modeClientSends, d)
}

// Receive measures the server-to-client direction for d: the server sends, the client
// counts.
func Receive(ctx context.Context, o Options, d time.Duration) (Measurement, error) {
	return o.measure(ctx, modeClientReceives, d)
}

func (o Options) measure(ctx context.Context, mode byte, d time.Duration) (Measurement, error) {
	if d < MinDuration || d > MaxDuration {
		return Measurement{}, fmt.Errorf("duration %s: want %s to %s", d, MinDuration, MaxDuration)
	}
	c, err := o.dial(ctx)
	if err != nil {
		return Measurement{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	m, err := o.exchange(c, mode, d)
	if err != nil && ctx.Err() != nil {
		return m, ctx.Err()
	}
	return m, err
}

func (o Options) exchange(c net.Conn, mode byte, d time.Duration) (Measurement, error) {
	idle := orDefault(o.IdleTimeout, 10*time.Second)
	c.SetDeadline(time.Now().Add(idle))
	if _, err := c.Write(hello{mode: mode, duration: d}.encode()); err != nil {
		return Measurement{}, fmt.Errorf("send hello: %w", err)
	}
	c.SetDeadline(time.Now().Add(orDefault(o.TurnWait, 90*time.Second)))
	a, err := readAnswer(c)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return Measurement{}, fmt.Errorf("no answer from the server within %s", orDefault(o.TurnWait, 90*time.Second))
		}
		return Measurement{}, fmt.Errorf("read the server's answer: %w", err)
	}
	switch a.status {
	case statusGo:
	case statusBusy:
		return Measurement{}, fmt.Errorf("the server is busy: %s", a.message)
	default:
		return Measurement{}, fmt.Errorf("the server refused: %s", a.message)
	}
	start := time.Now()
	if mode == modeClientReceives {
		return receive(c, start, start.Add(d+idle), idle)
	}
	if _, err := send(c, start.Add(d), idle); err != nil {
		return Measurement{}, err
	}
	c.SetReadDeadline(time.Now().Add(idle))
	return readReport(c)
}

// dial connects to the peer from the interface.
func (o Options) dial(ctx context.Context) (net.Conn, error) {
	dl := net.Dialer{Timeout: orDefault(o.DialTimeout, 10*time.Second)}
	if o.Interface != "" {
		dl.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), o.Interface) }); err != nil {
				return err
			}
			if serr != nil {
				return fmt.Errorf("bind to %s: %w", o.Interface, serr)
			}
			return nil
		}
	}
	// The error says "dial tcp PEER: connect: ..." (or "bind to IF: ...").
	return dl.DialContext(ctx, "tcp", o.Peer)
}
