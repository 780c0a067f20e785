package main

import (
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"maasgo/agent"
)

// resumeOpts are the flags of resume.
type resumeOpts struct {
	conn        connOpts
	retry       retryOpts
	noSend      bool
	machineRoot string
}

// newResumeCmd builds "resume".
//
// Synopsis:
//
//	maas-run-scripts resume [--give-up-after D] [--no-send] [--url URL --config FILE ...] [STORAGE_DIR]
//
// It finishes the latest run of STORAGE_DIR after a crash or a reboot: the signals in the
// journal that were not delivered are uploaded, and only the scripts whose result was not
// recorded run again. The region and credentials saved with the run are used unless flags
// give others.
func newResumeCmd() *cobra.Command {
	var o resumeOpts
	cmd := &cobra.Command{
		Use:          "resume [flags] [STORAGE_DIR]",
		Short:        "Finish an interrupted run: upload what is unsent and run what did not finish",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runResume(cmd, o, args)
		},
	}
	fl := cmd.Flags()
	o.conn.addFlags(fl, "")
	o.retry.addFlags(fl)
	fl.BoolVar(&o.noSend, "no-send", false, "make no network request: keep the results in the journal")
	fl.StringVar(&o.machineRoot, "machine-root", "", "read /sys, /dev, /run/udev and /etc below `DIR`")
	fl.MarkHidden("machine-root")
	return cmd
}

func runResume(cmd *cobra.Command, o resumeOpts, args []string) error {
	ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	storage, err := storageDir(args)
	if err != nil {
		return err
	}
	id, err := agent.CurrentRun(storage)
	if err != nil {
		return err
	}
	info, err := agent.LoadRun(storage, id)
	if err != nil {
		return err
	}
	ep, err := savedEndpoint(cmd, &o.conn, storage, info, o.noSend || info.NoSend)
	if err != nil {
		return err
	}
	a, err := newAgent(cmd, storage, ep, o.noSend || info.NoSend, o.retry, o.machineRoot)
	if err != nil {
		return err
	}
	if err := agent.Prioritize(); err != nil {
		a.Log.Debug("runner priority not raised", "error", err)
	}
	_, err = a.Resume(ctx)
	return err
}

// savedEndpoint is the endpoint saved with a run, with whatever the flags give instead. A run
// saved without a region or credentials (a --no-send run that found no config) takes those
// of the config the user data left (agent.ConfigSearchPath for storage).
//
// The TLS flags (--tls-ca, --tls-fingerprint, --insecure) are laid over what the run saved.
func savedEndpoint(cmd *cobra.Command, o *connOpts, storage string, info agent.RunInfo, offline bool) (agent.Endpoint, error) {
	ep, err := savedEndpointFlags(cmd, o, storage, info, offline)
	if err != nil {
		return ep, err
	}
	ep.TLS, err = o.tls.override(ep.TLS)
	return ep, err
}

func savedEndpointFlags(cmd *cobra.Command, o *connOpts, storage string, info agent.RunInfo, offline bool) (agent.Endpoint, error) {
	ep := info.Endpoint
	given := o.given(cmd.Flags())
	if !given && ep.MetadataURL != "" && ep.TokenSecret != "" {
		return ep, nil
	}
	o.storage = storage
	flags, err := o.endpoint(cmdContext(cmd), cmd.Flags(), offline, cmd.OutOrStdout())
	if err != nil {
		return ep, err
	}
	if !given {
		// Only what the run lacks comes from the config found.
		if ep.MetadataURL == "" {
			ep.MetadataURL = flags.MetadataURL
			ep.TLS = storedTrust(flags.TLS)
		}
		if ep.TokenSecret == "" {
			ep.Credentials = flags.Credentials
		}
		return ep, nil
	}
	if flags.MetadataURL != "" {
		ep.MetadataURL = flags.MetadataURL
		ep.TLS = storedTrust(flags.TLS)
	}
	if flags.ConsumerKey != "" || flags.TokenKey != "" || flags.TokenSecret != "" {
		ep.Credentials = flags.Credentials
	}
	return ep, nil
}
