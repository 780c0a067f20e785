package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"maasgo/agent"
	"maasgo/client"
	"maasgo/collectors"
	"maasgo/wire"
)

// connOpts are the flags that say where the region is and how to sign requests to it
// (upstream's maas-run-remote-scripts flags).
type connOpts struct {
	config string
	url    string
	ckey   string
	tkey   string
	tsec   string
	csec   string
	apiver string
}

func (o *connOpts) addFlags(fl *pflag.FlagSet, configDefault string) {
	fl.StringVar(&o.config, "config", configDefault, "read the metadata URL and credentials from the cloud-init config `FILE` (a path, file:// or http(s):// URL)")
	fl.StringVar(&o.url, "url", "", "the metadata `URL`, e.g. http://10.0.0.2:5248/MAAS/metadata/")
	fl.StringVar(&o.ckey, "ckey", "", "the OAuth consumer `key`")
	fl.StringVar(&o.tkey, "tkey", "", "the OAuth token `key`")
	fl.StringVar(&o.tsec, "tsec", "", "the OAuth token `secret`")
	fl.StringVar(&o.csec, "csec", "", "the OAuth consumer `secret` (usually empty)")
	fl.StringVar(&o.apiver, "apiver", agent.DefaultAPIVersion, "the metadata API `version`")
}

// given reports whether any connection flag was set on the command line.
func (o *connOpts) given(fl *pflag.FlagSet) bool {
	for _, n := range []string{"config", "url", "ckey", "tkey", "tsec", "csec"} {
		if fl.Changed(n) {
			return true
		}
	}
	return false
}

// endpoint resolves the flags and the config file into an endpoint: values on the command
// line win over the file's. The default config file may be missing; one named on the command
// line may not. offline skips a config that would be downloaded.
func (o *connOpts) endpoint(ctx context.Context, fl *pflag.FlagSet, offline bool, out io.Writer) (agent.Endpoint, error) {
	cfg := agent.Config{MetadataURL: o.url, Credentials: wire.Credentials{ConsumerKey: o.ckey, TokenKey: o.tkey, TokenSecret: o.tsec, ConsumerSecret: o.csec}}
	if o.config != "" {
		remote := strings.HasPrefix(o.config, "http://") || strings.HasPrefix(o.config, "https://")
		_, statErr := os.Stat(strings.TrimPrefix(o.config, "file://"))
		switch {
		case remote && offline:
			fmt.Fprintf(out, "--no-send makes no network request: the config %s is not read\n", o.config)
		case !remote && errors.Is(statErr, os.ErrNotExist) && !fl.Changed("config"):
		default:
			fileCfg, err := agent.LoadConfig(ctx, client.NewHTTPClient(client.Options{Idle: agent.DefaultIdleTimeout}), o.config)
			if err != nil {
				return agent.Endpoint{}, err
			}
			cfg.Fill(fileCfg)
		}
	}
	ep := agent.Endpoint{Credentials: cfg.Credentials}
	if cfg.MetadataURL != "" {
		u, err := agent.MetadataURL(cfg.MetadataURL, o.apiver)
		if err != nil {
			return ep, err
		}
		ep.MetadataURL = u
	}
	return ep, nil
}

// checkSendable says why the runner cannot report to ep.
func checkSendable(ep agent.Endpoint) error {
	switch {
	case ep.MetadataURL == "":
		return errors.New("no metadata URL: give --url or a --config with metadata_url (or --no-send)")
	case ep.TokenSecret == "" || ep.TokenKey == "" || ep.ConsumerKey == "":
		return errors.New("no machine credentials (consumer key, token key and token secret): this runner does not enlist machines; give the credentials or use --no-send")
	}
	return nil
}

// retryOpts are the upload and download policy flags.
type retryOpts struct {
	giveUpAfter time.Duration
	idleTimeout time.Duration
}

func (o *retryOpts) addFlags(fl *pflag.FlagSet) {
	fl.DurationVar(&o.giveUpAfter, "give-up-after", 0, "stop retrying an upload or a download after this `duration` (0: retry for as long as it takes); unsent results stay in the journal for `send`")
	addIdleFlag(fl, &o.idleTimeout, false)
}

// addIdleFlag adds --idle-timeout.
func addIdleFlag(fl *pflag.FlagSet, d *time.Duration, hidden bool) {
	fl.DurationVar(d, "idle-timeout", agent.DefaultIdleTimeout, "fail a download or an upload that moves no data for this `duration` (it is retried like other failures)")
	if hidden {
		fl.MarkHidden("idle-timeout")
	}
}

// check validates the flags.
func (o *retryOpts) check() error {
	if o.idleTimeout <= 0 {
		return fmt.Errorf("--idle-timeout must be positive, not %s", o.idleTimeout)
	}
	return nil
}

// runOpts are the flags of run.
type runOpts struct {
	conn         connOpts
	retry        retryOpts
	noDownload   bool
	noSend       bool
	maxOutput    string
	timeoutGrace time.Duration
	machineRoot  string
}

// newRunCmd builds "run", also called as maas-run-remote-scripts.
//
// Synopsis:
//
//	maas-run-scripts run [--config FILE] [--url URL] [--ckey K --tkey K --tsec S --csec S] [--apiver V]
//	                     [--no-download] [--no-send] [--max-output SIZE] [--timeout-grace D]
//	                     [--give-up-after D] [STORAGE_DIR]
//
// It downloads the region's scripts into STORAGE_DIR/scripts, runs them and reports each
// result. STORAGE_DIR defaults to the parent of the binary's directory, as upstream's runner
// (the user data puts it in /tmp/user_data.sh.XXXXXX/bin). Every signal is journaled under
// STORAGE_DIR/runs before it is sent. The exit status is 1 when a script failed or timed out.
func newRunCmd() *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "run [flags] [STORAGE_DIR]",
		Short: "Download, run and report the machine's commissioning and testing scripts",
		Long: `Download the scripts the region has for this machine, run them in upstream's order and
report every result. Results are journaled in STORAGE_DIR before they are sent and are
retried until the region has them; "resume" finishes a run that was interrupted and "send"
uploads results kept with --no-send.`,
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, o, args)
		},
	}
	fl := cmd.Flags()
	o.conn.addFlags(fl, agent.DefaultConfigPath)
	o.retry.addFlags(fl)
	fl.BoolVar(&o.noDownload, "no-download", false, "run the scripts already in STORAGE_DIR (all of them) instead of downloading them")
	fl.BoolVar(&o.noSend, "no-send", false, "make no network request: keep the results in the journal (see send)")
	fl.StringVar(&o.maxOutput, "max-output", "16MiB", "keep at most `SIZE` of each output file (its head and tail); 0 keeps everything")
	fl.DurationVar(&o.timeoutGrace, "timeout-grace", 0, "let a script run this much past its timeout before it is killed (upstream: 5m)")
	fl.StringVar(&o.machineRoot, "machine-root", "", "read /sys, /dev, /run/udev and /etc below `DIR` (a machine tree) to resolve devices")
	fl.MarkHidden("machine-root")
	return cmd
}

func runRun(cmd *cobra.Command, o runOpts, args []string) error {
	ctx, stop := signal.NotifyContext(cmdContext(cmd), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	out := cmd.OutOrStdout()
	storage, err := storageDir(args)
	if err != nil {
		return err
	}
	maxOutput, err := parseMaxOutput(o.maxOutput)
	if err != nil {
		return err
	}
	ep, err := o.conn.endpoint(ctx, cmd.Flags(), o.noSend, out)
	if err != nil {
		return err
	}
	a, err := newAgent(cmd, storage, ep, o.noSend, o.retry, o.machineRoot)
	if err != nil {
		return err
	}
	a.NoDownload = o.noDownload
	a.MaxOutput = maxOutput
	a.TimeoutGrace = o.timeoutGrace
	if err := agent.Prioritize(); err != nil {
		a.Log.Debug("runner priority not raised", "error", err)
	}
	_, err = a.Run(ctx)
	return err
}

// newAgent builds an agent for storage and ep with the process's defaults.
func newAgent(cmd *cobra.Command, storage string, ep agent.Endpoint, noSend bool, retry retryOpts, machineRoot string) (*agent.Agent, error) {
	if err := retry.check(); err != nil {
		return nil, err
	}
	a := &agent.Agent{
		StorageDir:  storage,
		Roots:       collectors.HostRoots(),
		Endpoint:    ep,
		Out:         cmd.OutOrStdout(),
		Log:         slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo})),
		GiveUpAfter: retry.giveUpAfter,
		IdleTimeout: retry.idleTimeout,
		NoSend:      noSend,
		NiceScripts: true,
		Sudo:        os.Geteuid() != 0,
	}
	if machineRoot != "" {
		a.Roots = collectors.RootsAt(machineRoot)
		a.MachineRoot = machineRoot
	}
	if self, err := os.Executable(); err == nil {
		a.Self = self
		a.Watchdog = []string{self, agent.ReaperCommand}
	}
	if !noSend {
		if err := checkSendable(ep); err != nil {
			return nil, err
		}
		a.Region = agent.NewRegion(ep, retry.idleTimeout)
	}
	return a, nil
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// storageDir is the argument, or upstream's default: the parent of the binary's directory.
func storageDir(args []string) (string, error) {
	if len(args) > 0 {
		return filepath.Abs(args[0])
	}
	// The binary's path as it was called, as upstream's Path(__file__): a link in
	// /tmp/user_data.sh.XXXXXX/bin names that directory, not the link's target.
	self := os.Args[0]
	if !strings.Contains(self, "/") {
		if p, err := exec.LookPath(self); err == nil {
			self = p
		} else if p, err := os.Executable(); err == nil {
			self = p
		}
	}
	self, err := filepath.Abs(self)
	if err != nil {
		return "", fmt.Errorf("find the storage directory: %w", err)
	}
	dir := filepath.Dir(filepath.Dir(self))
	switch dir {
	case "/", "/usr", "/usr/local", "/opt":
		return "", fmt.Errorf("no STORAGE_DIR given, and the default (the parent of %s) is %s, a system directory: give STORAGE_DIR", filepath.Dir(self), dir)
	}
	return dir, nil
}

// parseMaxOutput reads --max-output: 0 keeps everything.
func parseMaxOutput(s string) (int64, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("--max-output: %w", err)
	}
	if n == 0 {
		return -1, nil
	}
	if n < agent.MinMaxOutput {
		return 0, fmt.Errorf("--max-output: %s is below the minimum of %d bytes", s, agent.MinMaxOutput)
	}
	return n, nil
}

// parseSize reads a size: a number with an optional unit (B, K/KB/KiB, M/MB/MiB, G/GB/GiB;
// the decimal units are powers of 1000).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid size %q (want e.g. 16MiB)", s)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1e3, "m": 1 << 20, "mib": 1 << 20,
		"mb": 1e6, "g": 1 << 30, "gib": 1 << 30, "gb": 1e9}[strings.ToLower(unit)]
	if mult == 0 {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q", s, unit)
	}
	if f*mult > 1<<50 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(f * mult), nil
}
