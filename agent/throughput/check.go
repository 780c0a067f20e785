package throughput

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Check is the network-throughput test of one interface: throughput both ways (or one)
// to a peer, judged against a fraction of the interface's link speed.
type Check struct {
	Options
	// Duration is the length of each direction's measurement.
	Duration time.Duration
	// Send and Receive choose the directions: from the machine to the peer, and back.
	Send, Receive bool
	// MinFraction is the share of the link speed each direction must reach; below it the
	// result is degraded. 0 judges nothing.
	MinFraction float64
	// LinkSpeed reads the interface's link speed in Mbit/s, 0 when unknown; nil means
	// unknown. The command reads it as the collectors do (ethtool, then sysfs); tests set it.
	LinkSpeed func(ifname string) (uint64, error)
}

// Result is what a Check found.
type Result struct {
	Interface, Peer string
	Send, Receive   *Measurement // nil when not measured
	// LinkSpeed is the interface's link speed in Mbit/s; 0 when unknown, and then
	// LinkSpeedNote says why.
	LinkSpeed     uint64
	LinkSpeedNote string
	MinFraction   float64
}

// Run reads the link speed, then measures each chosen direction in turn. An error means no
// figure could be had (the peer is unreachable, refused or went away).
func (c Check) Run(ctx context.Context) (*Result, error) {
	if c.MinFraction < 0 || c.MinFraction > 1 || math.IsNaN(c.MinFraction) {
		return nil, fmt.Errorf("minimum fraction %v: want 0 to 1", c.MinFraction)
	}
	if !c.Send && !c.Receive {
		return nil, fmt.Errorf("no direction to measure")
	}
	r := &Result{Interface: c.Interface, Peer: c.Peer, MinFraction: c.MinFraction}
	switch {
	case c.LinkSpeed == nil:
		r.LinkSpeedNote = "not read"
	default:
		s, err := c.LinkSpeed(c.Interface)
		switch {
		case err != nil:
			r.LinkSpeedNote = err.Error()
		case s == 0:
			r.LinkSpeedNote = "the driver does not report it"
		}
		r.LinkSpeed = s
	}
	where := fmt.Sprintf("to %s", c.Peer)
	if c.Interface != "" {
		where = fmt.Sprintf("from %s to %s", c.Interface, c.Peer)
	}
	if c.Send {
		m, err := Send(ctx, c.Options, c.Duration)
		if err != nil {
			return r, fmt.Errorf("throughput %s: %w", where, err)
		}
		r.Send = &m
	}
	if c.Receive {
		m, err := Receive(ctx, c.Options, c.Duration)
		if err != nil {
			return r, fmt.Errorf("throughput back %s: %w", where, err)
		}
		r.Receive = &m
	}
	return r, nil
}

// Threshold is the least throughput in Mbit/s each direction must reach; 0 when nothing
// is judged (no link speed, or no fraction).
func (r *Result) Threshold() float64 {
	return float64(r.LinkSpeed) * r.MinFraction
}

// Slow names the directions below the threshold ("sent", "received").
func (r *Result) Slow() []string {
	t := r.Threshold()
	if t <= 0 {
		return nil
	}
	var out []string
	if r.Send != nil && r.Send.Mbps() < t {
		out = append(out, "sent")
	}
	if r.Receive != nil && r.Receive.Mbps() < t {
		out = append(out, "received")
	}
	return out
}

// Status is the result's status word: degraded when a direction is slow, else passed.
func (r *Result) Status() string {
	if len(r.Slow()) > 0 {
		return "degraded"
	}
	return "passed"
}

// WriteReport writes the figures and the verdict for a person to read.
func (r *Result) WriteReport(w io.Writer) {
	line := func(dir string, m *Measurement) {
		if m != nil {
			fmt.Fprintf(w, "%-8s %10.1f Mbit/s  (%d bytes in %.2f s)\n", dir, m.Mbps(), m.Bytes, m.Elapsed.Seconds())
		}
	}
	fmt.Fprintf(w, "interface %s, peer %s\n", orNone(r.Interface), r.Peer)
	line("sent", r.Send)
	line("received", r.Receive)
	if r.LinkSpeed == 0 {
		fmt.Fprintf(w, "link speed unknown (%s): no threshold applied\n", r.LinkSpeedNote)
	} else {
		fmt.Fprintf(w, "link speed %d Mbit/s\n", r.LinkSpeed)
	}
	switch t, slow := r.Threshold(), r.Slow(); {
	case t <= 0:
		fmt.Fprintln(w, "passed")
	case len(slow) > 0:
		fmt.Fprintf(w, "degraded: %v below %.1f Mbit/s (%g of the link speed)\n", slow, t, r.MinFraction)
	default:
		fmt.Fprintf(w, "passed: at least %.1f Mbit/s (%g of the link speed) each way\n", t, r.MinFraction)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(any)"
	}
	return s
}

// YAML is the result file a script writes to RESULT_PATH (protocol.md §5): the status and
// the figures as metrics, throughputs in Mbit/s to 0.1 (send_mbps, receive_mbps, min_mbps)
// and the link speed in Mbit/s (link_speed).
func (r *Result) YAML() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "status: %s\nresults:\n  link_speed: %d\n  min_mbps: %.1f\n", r.Status(), r.LinkSpeed, r.Threshold())
	if r.Receive != nil {
		fmt.Fprintf(&b, "  receive_mbps: %.1f\n", r.Receive.Mbps())
	}
	if r.Send != nil {
		fmt.Fprintf(&b, "  send_mbps: %.1f\n", r.Send.Mbps())
	}
	return []byte(b.String())
}
