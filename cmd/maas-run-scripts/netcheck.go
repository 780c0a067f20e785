package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"maasgo/agent/netcheck"
)

// netcheckOpts are the flags of netcheck.
type netcheckOpts struct {
	iface    string
	urls     []string
	gateways bool
	timeout  time.Duration
	insecure bool
}

// newNetcheckCmd builds "netcheck", the work of the built-in network tests.
//
// Synopsis:
//
//	netcheck [--interface IF] [--url TARGET[,TARGET...]]... [--gateways] [--timeout 15s] [--insecure] [TARGET...]
//
// Every probe is bound to the interface. It prints one line per target, "OK  <target>
// <latency>" or "FAIL <target>  <why>", and fails when a target failed. With --gateways and
// no gateway routed through the interface (and no other target) the check is skipped: it
// says why, writes "status: skipped" to the result file the runner gave (RESULT_PATH), and
// exits 0.
func newNetcheckCmd() *cobra.Command {
	var o netcheckOpts
	cmd := &cobra.Command{
		Use:   "netcheck [--interface IF] [--url TARGETS]... [--gateways] [TARGET...]",
		Short: "Check that hosts, URLs and gateways are reachable through one network interface",
		Long: `Check that hosts, URLs and gateways are reachable through one network interface,
without ping, curl or iproute2. Bare hosts and IP addresses, and icmp://host, are pinged
(ICMP echo, IPv4 and IPv6); http:// and https:// URLs are fetched (GET; any HTTP answer
passes; certificates are checked unless --insecure); tcp://host:port, and ftp://, smtp://
and the other TCP schemes, are connected to. Host names are resolved through the interface.
--gateways adds every gateway routed through the interface. Each target has --timeout.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetcheck(cmd, o, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.iface, "interface", "i", "", "bind every probe to interface `IF` (default: none, the machine's routes decide)")
	fl.StringArrayVarP(&o.urls, "url", "u", nil, "`TARGETS` to reach, comma-separated (repeatable)")
	fl.BoolVarP(&o.gateways, "gateways", "g", false, "ping every gateway routed through the interface")
	fl.DurationVar(&o.timeout, "timeout", netcheck.DefaultTimeout, "time allowed to each target")
	fl.BoolVar(&o.insecure, "insecure", false, "do not check the certificates of https:// servers")
	return cmd
}

func runNetcheck(cmd *cobra.Command, o netcheckOpts, args []string) error {
	if o.timeout <= 0 {
		return fmt.Errorf("--timeout %s: want a positive duration", o.timeout)
	}
	rep, err := netcheck.Run(cmdContext(cmd), netcheck.Options{
		Interface: o.iface,
		Targets:   append(append([]string(nil), o.urls...), args...),
		Gateways:  o.gateways,
		Timeout:   o.timeout,
		Insecure:  o.insecure,
	}, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	if rep.Skipped != "" {
		return writeSkipped(os.Getenv("RESULT_PATH"), cmd.ErrOrStderr())
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("%d of %d targets could not be reached%s", n, len(rep.Results), through(o.iface))
	}
	return nil
}

func through(iface string) string {
	if iface == "" {
		return ""
	}
	return " through " + iface
}

// writeSkipped tells the runner the test was skipped: "status: skipped" in its result file
// (protocol.md §5), when the runner gave one and the script wrote nothing there yet.
func writeSkipped(path string, stderr io.Writer) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist) || (err == nil && strings.TrimSpace(string(data)) == ""):
		if err := os.WriteFile(path, []byte("status: skipped\n"), 0o644); err != nil {
			return fmt.Errorf("write the result file: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read the result file: %w", err)
	default:
		fmt.Fprintf(stderr, "the result file %s is not empty: not marking the test skipped\n", path)
	}
	return nil
}
