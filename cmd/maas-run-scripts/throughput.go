package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"maasgo/agent/throughput"
	"maasgo/collectors"
)

// newThroughputCmd builds "throughput" and its subcommands.
//
// Synopsis:
//
//	throughput serve [--listen :5249] [--sessions 1] [--queue-wait 1m] [--max-duration 1m] [--max-connections 64]
//	throughput run --interface IF [--peer HOST[:PORT] | --region-url URL] [--duration 10s]
//	               [--direction both|send|receive] [--min-fraction 0.7] [--result-path FILE]
func newThroughputCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "throughput",
		Short: "Measure TCP throughput between an interface and a peer, without iperf",
		Long: `Measure TCP throughput between one of this machine's interfaces and a peer running
"maas-run-scripts throughput serve": another machine, or a host next to the region.
The network-throughput testing script runs "throughput run" for each interface.`,
	}
	cmd.AddCommand(newThroughputServeCmd(), newThroughputRunCmd())
	return cmd
}

// throughputServeOpts are the flags of throughput serve.
type throughputServeOpts struct {
	listen string
	server throughput.Server
}

func newThroughputServeCmd() *cobra.Command {
	var o throughputServeOpts
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Answer throughput clients until interrupted (SIGINT or SIGTERM)",
		Long: `Answer the clients of "throughput run" until SIGINT or SIGTERM. One measurement runs
at a time (--sessions), so that clients do not share this host's link; the others wait
their turn for at most --queue-wait and are then told the server is busy. Listen on an
address of the network the machines test, e.g. --listen 10.0.0.2:5249.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runThroughputServe(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.listen, "listen", ":"+strconv.Itoa(throughput.DefaultPort), "listen on `ADDRESS` (host:port)")
	fl.IntVar(&o.server.Sessions, "sessions", 1, "measurements at once")
	fl.IntVar(&o.server.MaxConns, "max-connections", 64, "connections at once, waiting ones included")
	fl.DurationVar(&o.server.QueueWait, "queue-wait", time.Minute, "how long a client may wait for its turn")
	fl.DurationVar(&o.server.MaxDuration, "max-duration", time.Minute, "the longest measurement a client may ask for")
	return cmd
}

func runThroughputServe(ctx context.Context, stdout, stderr io.Writer, o throughputServeOpts) error {
	if o.server.Sessions < 1 || o.server.MaxConns < 1 || o.server.QueueWait <= 0 || o.server.MaxDuration < throughput.MinDuration {
		return fmt.Errorf("--sessions and --max-connections must be at least 1, --queue-wait positive and --max-duration at least %s", throughput.MinDuration)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("throughput serve: %w", err)
	}
	o.server.Log = slog.New(slog.NewTextHandler(stderr, nil))
	fmt.Fprintf(stdout, "throughput server listening on %s\n", ln.Addr())
	return o.server.Serve(ctx, ln)
}

// throughputRunOpts are the flags of throughput run.
type throughputRunOpts struct {
	iface, peer, regionURL, direction, resultPath string
	duration                                      time.Duration
	minFraction                                   float64
	// linkSpeed reads an interface's link speed; tests replace liveLinkSpeed.
	linkSpeed func(ifname string) (uint64, error)
}

func newThroughputRunCmd() *cobra.Command {
	o := throughputRunOpts{linkSpeed: liveLinkSpeed}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Measure the throughput from an interface to a peer and judge it against the link speed",
		Long: `Measure TCP throughput from --interface to the peer (bound to the interface), for
--duration each way, print the figures, and write the result file (--result-path): status
degraded when a direction is below --min-fraction of the interface's link speed, passed
otherwise (also when the link speed is unknown), with send_mbps, receive_mbps, link_speed
and min_mbps. It fails when no figure can be had (the peer is unreachable or refuses).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runThroughput(cmdContext(cmd), cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.iface, "interface", "", "test the interface `IF`; every connection is bound to it")
	fl.StringVar(&o.peer, "peer", "", "the server, `HOST[:PORT]` (port "+strconv.Itoa(throughput.DefaultPort)+" when not given)")
	fl.StringVar(&o.regionURL, "region-url", "", "without --peer: the server is on this `URL`'s host (the region's)")
	fl.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure each direction")
	fl.StringVar(&o.direction, "direction", "both", "send (to the peer), receive (from it) or both")
	fl.Float64Var(&o.minFraction, "min-fraction", 0.7, "the share of the link speed each direction must reach (0 to 1; 0 judges nothing)")
	fl.StringVar(&o.resultPath, "result-path", "", "write the result YAML to `FILE` (the script passes $RESULT_PATH)")
	return cmd
}

func runThroughput(ctx context.Context, stdout io.Writer, o throughputRunOpts) error {
	if o.iface == "" {
		return errors.New("--interface is required")
	}
	peer, err := throughputPeer(o.peer, o.regionURL)
	if err != nil {
		return err
	}
	c := throughput.Check{
		Options:     throughput.Options{Interface: o.iface, Peer: peer},
		Duration:    o.duration,
		MinFraction: o.minFraction,
		LinkSpeed:   o.linkSpeed,
	}
	switch o.direction {
	case "both":
		c.Send, c.Receive = true, true
	case "send":
		c.Send = true
	case "receive":
		c.Receive = true
	default:
		return fmt.Errorf("--direction %q: want send, receive or both", o.direction)
	}
	r, err := c.Run(ctx)
	if err != nil {
		return err
	}
	r.WriteReport(stdout)
	if o.resultPath == "" {
		return nil
	}
	if err := os.WriteFile(o.resultPath, r.YAML(), 0o644); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// throughputPeer is the server to measure against: --peer (with the default port when it
// has none), else the region URL's host on the default port.
func throughputPeer(peer, regionURL string) (string, error) {
	def := strconv.Itoa(throughput.DefaultPort)
	if peer != "" {
		if _, _, err := net.SplitHostPort(peer); err == nil {
			return peer, nil
		}
		return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(peer, "["), "]"), def), nil
	}
	if regionURL == "" {
		return "", errors.New("no peer: give --peer HOST[:PORT] or --region-url URL")
	}
	u, err := url.Parse(regionURL)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("--region-url %q: want a URL with a host", regionURL)
	}
	return net.JoinHostPort(u.Hostname(), def), nil
}

// liveLinkSpeed reads an interface's link speed as the runner reports it with network
// results (collectors.ReadPortState: ethtool, then sysfs). An unknown speed is an error
// that describes the link.
func liveLinkSpeed(ifname string) (uint64, error) {
	seams, closeSeams, err := collectors.LiveSeams()
	if err != nil {
		return 0, err
	}
	defer closeSeams()
	p, err := collectors.ReadPortState(collectors.NewFS(collectors.HostRoots(), nil), collectors.Seams{Ethtool: seams.Ethtool}, ifname)
	if err != nil {
		return 0, err
	}
	if p.LinkSpeed == 0 {
		return 0, errors.New(p.Describe())
	}
	return p.LinkSpeed, nil
}
