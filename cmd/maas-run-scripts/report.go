package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"maasgo/agent"
	"maasgo/wire"
)

// reportOpts are the flags of report-results.
type reportOpts struct {
	config       string
	machineToken string
	metadataURL  string
	storage      string
	retry        retryOpts
	maxOutput    string
	machineRoot  string
	tls          trustOpts
}

// newReportResultsCmd builds "report-results".
//
// Synopsis:
//
//	maas-run-scripts report-results [--config FILE] [--machine-token CK:TK:TS[:CS]] [--metadata-url URL]
//	                                [--storage-dir DIR] [--give-up-after D] [--max-output SIZE]
//
// On a machine that already runs a workload (created deployed), it runs the default
// commissioning scripts tagged deploy-info that the region lists, hardware inventory
// included, without touching the machine's network, disks or packages, and reports each
// result with its real exit status through the runner's journal. It sends no final OK or
// FAILED, so the machine stays deployed. The exit status is 1 when a script failed.
func newReportResultsCmd() *cobra.Command {
	var o reportOpts
	cmd := &cobra.Command{
		Use:   "report-results [flags]",
		Short: "Report the hardware of this machine, already running a workload, to MAAS",
		Long: `Run the region's deploy-info commissioning scripts (the hardware inventory and the
support information) on this machine and report every result, so the region shows its CPUs,
memory, disks and interfaces. The machine stays deployed: its network, disks and packages are
left alone. Results are journaled in the storage directory before they are sent and are
retried until the region has them ("resume" and "send" work on that directory too).`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReportResults(cmd, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.config, "config", "", "the credentials `FILE` written by register-machine or get-machine-token")
	fl.StringVar(&o.machineToken, "machine-token", "", "the machine's token, `CK:TK:TS` (instead of the file's)")
	fl.StringVar(&o.metadataURL, "metadata-url", "", "the region's `URL`, e.g. http://10.0.0.2:5240/MAAS/metadata/ (instead of the file's endpoint)")
	fl.StringVar(&o.storage, "storage-dir", "", "keep the scripts, their output and the journal in `DIR` (default: "+defaultReportStorage()+")")
	o.retry.addFlags(fl)
	o.tls.addFlags(fl)
	fl.StringVar(&o.maxOutput, "max-output", "16MiB", "keep at most `SIZE` of each output file (its head and tail); 0 keeps everything")
	fl.StringVar(&o.machineRoot, "machine-root", "", "read /sys, /dev and /run/udev below `DIR` to resolve devices")
	fl.MarkHidden("machine-root")
	return cmd
}

// defaultReportStorage is report-results' storage directory: $MAAS_RUN_SCRIPTS_STATE_DIR,
// else a system directory for root and the user's state directory otherwise.
func defaultReportStorage() string {
	if d := os.Getenv("MAAS_RUN_SCRIPTS_STATE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/maas-run-scripts"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "maas-run-scripts")
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "state", "maas-run-scripts")
	}
	return "maas-run-scripts-state"
}

// reportEndpoint resolves the credentials file and the flags into the endpoint: the token
// from --machine-token or the file, the region from --metadata-url or the file's endpoint.
func reportEndpoint(o reportOpts) (agent.Endpoint, error) {
	var c agent.Creds
	if o.config != "" {
		f, err := os.Open(o.config)
		if err != nil {
			return agent.Endpoint{}, fmt.Errorf("read the credentials file: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
		f.Close()
		if err != nil {
			return agent.Endpoint{}, fmt.Errorf("read the credentials file %s: %w", o.config, err)
		}
		if c, err = agent.ParseCreds(data); err != nil {
			return agent.Endpoint{}, fmt.Errorf("the credentials file %s is malformed: %w", o.config, err)
		}
	}
	if o.machineToken != "" {
		t, err := wire.ParseCredentials(o.machineToken)
		if err != nil {
			return agent.Endpoint{}, fmt.Errorf("--machine-token: %w", err)
		}
		c.Credentials = t
	}
	if o.metadataURL != "" {
		c.Endpoint = o.metadataURL
	}
	if c.ConsumerKey == "" || c.TokenKey == "" || c.TokenSecret == "" {
		where := "give --config FILE (written by register-machine or get-machine-token) or --machine-token CK:TK:TS"
		if o.config != "" {
			where = fmt.Sprintf("%s lacks reporting.maas consumer_key, token_key or token_secret", o.config)
		}
		return agent.Endpoint{}, fmt.Errorf("no machine credentials: %s", where)
	}
	u, err := agent.ReportMetadataURL(c.Endpoint, agent.DefaultAPIVersion)
	if err != nil {
		return agent.Endpoint{}, err
	}
	trust, err := o.tls.override(c.TLS)
	if err != nil {
		return agent.Endpoint{}, err
	}
	return agent.Endpoint{MetadataURL: u, Credentials: c.Credentials, TLS: trust}, nil
}

func runReportResults(cmd *cobra.Command, o reportOpts) error {
	ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ep, err := reportEndpoint(o)
	if err != nil {
		return err
	}
	maxOutput, err := parseMaxOutput(o.maxOutput)
	if err != nil {
		return err
	}
	storage := o.storage
	if storage == "" {
		storage = defaultReportStorage()
	}
	if storage, err = filepath.Abs(storage); err != nil {
		return fmt.Errorf("storage directory: %w", err)
	}
	a, err := newAgent(cmd, storage, ep, false, o.retry, o.machineRoot)
	if err != nil {
		return err
	}
	a.Workload = true
	a.MaxOutput = maxOutput
	_, err = a.Run(ctx)
	if errors.Is(err, agent.ErrUnauthorized) {
		return fmt.Errorf("%w (was the machine deleted, or its token replaced? get-machine-token writes current credentials)", err)
	}
	return err
}
