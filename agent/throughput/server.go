package throughput

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Server answers throughput clients. The zero value serves one measurement at a time with
// the defaults below.
type Server struct {
	// Sessions is how many measurements run at once; 0 means 1, so that clients do not
	// share the server's link.
	Sessions int
	// MaxConns bounds the connections held at once, waiting ones included; 0 means 64.
	// Beyond it a client is told the server is busy.
	MaxConns int
	// QueueWait is how long a client waits for its turn before it is told the server is
	// busy; 0 means one minute.
	QueueWait time.Duration
	// MaxDuration is the longest measurement a client may ask for; 0 means one minute.
	MaxDuration time.Duration
	// IdleTimeout is the longest silence within an exchange; 0 means 10 s.
	IdleTimeout time.Duration
	// Log receives one line per measurement and per refused client; nil discards them.
	Log *slog.Logger
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// bufSize is the size of one write or read.
const bufSize = 256 << 10

// Serve answers the clients that connect to ln until ctx ends, then closes ln, ends the
// exchanges in progress and returns nil. Any other accept error is returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	slots := make(chan struct{}, orDefault(s.Sessions, 1))
	held := make(chan struct{}, orDefault(s.MaxConns, 64))
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		select {
		case held <- struct{}{}:
		default:
			log.Warn("client refused: too many connections", "client", c.RemoteAddr())
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			c.Write(answer{statusBusy, "too many connections"}.encode())
			c.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-held }()
			s.handle(ctx, log, c, slots)
		})
	}
}

// handle runs one exchange: hello, a turn, the answer, the measurement.
func (s *Server) handle(ctx context.Context, log *slog.Logger, c net.Conn, slots chan struct{}) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	idle := orDefault(s.IdleTimeout, 10*time.Second)
	client := c.RemoteAddr().String()
	refuse := func(status byte, msg string) {
		log.Warn("client refused", "client", client, "reason", msg)
		c.SetWriteDeadline(time.Now().Add(idle))
		c.Write(answer{status, msg}.encode())
	}
	c.SetDeadline(time.Now().Add(idle))
	h, err := readHello(c)
	if err != nil {
		log.Warn("client refused", "client", client, "reason", err)
		return
	}
	if maxD := orDefault(s.MaxDuration, time.Minute); h.duration < MinDuration || h.duration > maxD {
		refuse(statusRefused, fmt.Sprintf("duration %s: this server measures from %s to %s", h.duration, MinDuration, maxD))
		return
	}
	wait := time.NewTimer(orDefault(s.QueueWait, time.Minute))
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-wait.C:
		refuse(statusBusy, fmt.Sprintf("waited %s for a turn: other measurements are running", orDefault(s.QueueWait, time.Minute)))
		return
	case <-ctx.Done():
		return
	}
	c.SetDeadline(time.Now().Add(idle))
	if _, err := c.Write(answer{status: statusGo}.encode()); err != nil {
		log.Warn("client went away", "client", client, "error", err)
		return
	}
	start := time.Now()
	var m Measurement
	if h.mode == modeClientSends {
		m, err = receive(c, start, start.Add(h.duration+idle), idle)
		if err == nil {
			c.SetWriteDeadline(time.Now().Add(idle))
			_, err = c.Write(m.encode())
		}
	} else if m, err = send(c, start.Add(h.duration), idle); err == nil {
		// The client counts until it has read everything and then closes.
		c.SetReadDeadline(time.Now().Add(idle))
		switch _, rerr := c.Read(make([]byte, 1)); {
		case rerr == nil:
			err = errors.New("the client sent data while receiving")
		case !errors.Is(rerr, io.EOF):
			err = fmt.Errorf("wait for the client to close: %w", rerr)
		}
	}
	if err != nil {
		log.Warn("measurement failed", "client", client, "mode", string(h.mode), "error", err)
		return
	}
	log.Info("measured", "client", client, "mode", string(h.mode), "bytes", m.Bytes, "seconds", m.Elapsed.Seconds(),
		"mbps", fmt.Sprintf("%.1f", m.Mbps()))
}

// receive counts what arrives on c until the sender shuts its side down: the bytes, and
// the time from start to the last byte. Silence longer than idle, or data after hard, is
// an error.
func receive(c net.Conn, start, hard time.Time, idle time.Duration) (Measurement, error) {
	buf := make([]byte, bufSize)
	var m Measurement
	last := start
	for {
		dl := time.Now().Add(idle)
		if dl.After(hard) {
			dl = hard
		}
		c.SetReadDeadline(dl)
		n, err := c.Read(buf)
		if n > 0 {
			m.Bytes += int64(n)
			last = time.Now()
		}
		if errors.Is(err, io.EOF) {
			m.Elapsed = last.Sub(start)
			return m, nil
		}
		if err != nil {
			return m, fmt.Errorf("receive: %w", err)
		}
	}
}

// send writes to c until end and shuts its side down. It returns what it wrote, timed from
// its start to end. Writes that make no progress for idle are an error.
func send(c net.Conn, end time.Time, idle time.Duration) (Measurement, error) {
	buf := make([]byte, bufSize)
	start := time.Now()
	var m Measurement
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		dl := now.Add(idle)
		if dl.After(end) {
			dl = end
		}
		c.SetWriteDeadline(dl)
		n, err := c.Write(buf)
		m.Bytes += int64(n)
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(end)) {
			return m, fmt.Errorf("send: %w", err)
		}
	}
	m.Elapsed = time.Since(start)
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		if err := tc.CloseWrite(); err != nil {
			return m, fmt.Errorf("send: shut down: %w", err)
		}
	}
	return m, nil
}
