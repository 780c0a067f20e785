package main

import (
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"maasgo/agent"
)

// sendOpts are the flags of send.
type sendOpts struct {
	conn  connOpts
	retry retryOpts
}

// newSendCmd builds "send".
//
// Synopsis:
//
//	maas-run-scripts send [--give-up-after D] [--url URL] [--config FILE] [--ckey K --tkey K --tsec S] [STORAGE_DIR]
//
// It uploads the signals the journals of STORAGE_DIR still hold (those of a --no-send run,
// or of a run that gave up), oldest run first, each with the idempotency key it was
// journaled with, so a signal the region already has is not stored twice. Each run's saved
// region and credentials are used unless flags give others.
func newSendCmd() *cobra.Command {
	var o sendOpts
	cmd := &cobra.Command{
		Use:          "send [flags] [STORAGE_DIR]",
		Short:        "Upload the results a run kept in its journal (after --no-send)",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSend(cmd, o, args)
		},
	}
	fl := cmd.Flags()
	o.conn.addFlags(fl, "")
	o.retry.addFlags(fl)
	return cmd
}

func runSend(cmd *cobra.Command, o sendOpts, args []string) error {
	ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	storage, err := storageDir(args)
	if err != nil {
		return err
	}
	if err := o.retry.check(); err != nil {
		return err
	}
	a := &agent.Agent{
		StorageDir:  storage,
		Out:         cmd.OutOrStdout(),
		Log:         slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)),
		GiveUpAfter: o.retry.giveUpAfter,
	}
	reports, err := a.Send(ctx, func(info agent.RunInfo) (agent.Region, error) {
		ep, err := savedEndpoint(cmd, &o.conn, storage, info, false)
		if err != nil {
			return nil, err
		}
		if err := checkSendable(ep, o.conn.searched...); err != nil {
			return nil, err
		}
		return agent.NewRegion(ep, o.retry.idleTimeout), nil
	})
	sent := 0
	for _, r := range reports {
		sent += r.Sent
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d signals sent\n", sent)
	return err
}
