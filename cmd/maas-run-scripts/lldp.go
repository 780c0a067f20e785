package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"maasgo/agent/lldp"
	"maasgo/collectors"
	"maasgo/wire"
)

// lldpOpts are the flags of lldp.
type lldpOpts struct {
	interfaces []string
	wait       time.Duration
	pretty     bool
}

// maxLLDPWait bounds --wait.
const maxLLDPWait = 10 * time.Minute

// newLLDPCmd builds "lldp".
//
// Synopsis:
//
//	lldp [--interface IF]... [--wait 35s] [--pretty]
//
// It listens for LLDP frames on the interfaces (by default every physical Ethernet
// interface that is up with a carrier) for the whole wait and prints wire.Neighbours JSON:
// {"interfaces": {"eth0": [{"chassis_id": ..., "port_id": ..., "vlan": 100, ...}]}}.
func newLLDPCmd() *cobra.Command {
	var o lldpOpts
	cmd := &cobra.Command{
		Use:   "lldp",
		Short: "Listen for LLDP neighbours (switch, port, VLAN) on the interfaces and print them as JSON",
		Long: `Listen for LLDP frames on each interface for --wait and print the neighbours heard, by
interface, as JSON. Without --interface it listens on every physical Ethernet interface
that is up with a carrier; it brings no interface up or down and needs no lldpd, only
CAP_NET_RAW. LLDP agents send every 30 s by default, hence the default wait of 35 s.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLLDP(cmdContext(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.interfaces, "interface", nil, "listen on `IF` (repeat for several); default: every physical interface that is up")
	fl.DurationVar(&o.wait, "wait", 35*time.Second, "how long to listen")
	fl.BoolVar(&o.pretty, "pretty", false, "indent the JSON")
	return cmd
}

func runLLDP(ctx context.Context, stdout, stderr io.Writer, o lldpOpts) error {
	if o.wait <= 0 || o.wait > maxLLDPWait {
		return fmt.Errorf("--wait %s: want more than 0 and at most %s", o.wait, maxLLDPWait)
	}
	names := slices.Compact(slices.Sorted(slices.Values(o.interfaces)))
	chosen := len(names) == 0
	if chosen {
		seams, closeSeams, err := collectors.LiveSeams()
		if err != nil {
			return fmt.Errorf("lldp: %w", err)
		}
		names, err = lldp.Interfaces(collectors.NewFS(collectors.HostRoots(), nil), seams.Netlink)
		closeSeams()
		if err != nil {
			return fmt.Errorf("lldp: %w", err)
		}
	}
	var (
		conns []*lldp.Conn
		errs  []error
	)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for _, name := range names {
		c, err := lldp.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, c)
	}
	// An interface named on the command line must be heard; one found by looking may have
	// gone since, and is left out unless none could be opened.
	if len(errs) > 0 && (!chosen || len(conns) == 0) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		fmt.Fprintf(stderr, "warning: %v; not listening there\n", err)
	}
	heard, err := lldp.ListenAll(ctx, conns, o.wait)
	if err != nil {
		return err
	}
	doc := wire.Neighbours{Interfaces: make(map[string][]wire.Neighbour, len(heard))}
	for _, c := range conns {
		h := heard[c.Ifname]
		doc.Interfaces[c.Ifname] = h.Neighbours
		fmt.Fprintf(stderr, "%s: %d LLDP neighbour(s) heard in %s", c.Ifname, len(h.Neighbours), o.wait)
		if h.Malformed > 0 {
			fmt.Fprintf(stderr, ", %d malformed frames ignored", h.Malformed)
		}
		fmt.Fprintln(stderr)
	}
	if err := doc.Validate(); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	if o.pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write neighbours: %w", err)
	}
	return nil
}
