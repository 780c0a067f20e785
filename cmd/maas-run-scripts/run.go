package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
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
	// storage is the storage directory whose user-data config endpoint looks for.
	storage string
	// searched are the configs endpoint looked for and did not find, for the error that
	// says where it looked.
	searched []string
	tls      trustOpts
}

func (o *connOpts) addFlags(fl *pflag.FlagSet, configDefault string) {
	fl.StringVar(&o.config, "config", configDefault, "read the metadata URL and credentials from the cloud-init config `FILE` (a path, file:// or http(s):// URL)")
	fl.StringVar(&o.url, "url", "", "the metadata `URL`, e.g. http://10.0.0.2:5248/MAAS/metadata/")
	fl.StringVar(&o.ckey, "ckey", "", "the OAuth consumer `key`")
	fl.StringVar(&o.tkey, "tkey", "", "the OAuth token `key`")
	fl.StringVar(&o.tsec, "tsec", "", "the OAuth token `secret`")
	fl.StringVar(&o.csec, "csec", "", "the OAuth consumer `secret` (usually empty)")
	fl.StringVar(&o.apiver, "apiver", agent.DefaultAPIVersion, "the metadata API `version`")
	o.tls.addFlags(fl)
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
// line win over the file's. Without --config it reads the first config of
// agent.ConfigSearchPath that exists: the creds.yaml the user data left in the storage
// directory or beside the binary's bin/, else the ephemeral environment's default. A config
// named on the command line must exist. offline skips a config that would be downloaded.
func (o *connOpts) endpoint(ctx context.Context, fl *pflag.FlagSet, offline bool, out io.Writer) (agent.Endpoint, error) {
	trust, err := o.tls.flagTrust()
	if err != nil {
		return agent.Endpoint{}, err
	}
	hc, err := httpClient(trust, agent.DefaultIdleTimeout)
	if err != nil {
		return agent.Endpoint{}, err
	}
	cfg := agent.Config{MetadataURL: o.url, Credentials: wire.Credentials{ConsumerKey: o.ckey, TokenKey: o.tkey, TokenSecret: o.tsec, ConsumerSecret: o.csec},
		TLS: storedTrust(trust)}
	o.searched = nil
	for _, loc := range o.configs(fl) {
		remote := strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://")
		_, statErr := os.Stat(strings.TrimPrefix(loc, "file://"))
		if remote && offline {
			fmt.Fprintf(out, "--no-send --no-download makes no network request: the config %s is not read\n", loc)
			break
		}
		if !remote && errors.Is(statErr, os.ErrNotExist) && !fl.Changed("config") {
			o.searched = append(o.searched, loc)
			continue
		}
		fileCfg, err := agent.LoadConfig(ctx, hc, loc)
		if err != nil {
			return agent.Endpoint{}, err
		}
		cfg.Fill(fileCfg)
		break
	}
	ep := agent.Endpoint{Credentials: cfg.Credentials, TLS: cfg.TLS}
	if trust.Insecure {
		ep.TLS = trust
	}
	if cfg.MetadataURL != "" {
		u, err := agent.MetadataURL(cfg.MetadataURL, o.apiver)
		if err != nil {
			return ep, err
		}
		ep.MetadataURL = u
	}
	return ep, nil
}

// configs are the config locations endpoint tries, in order: the one --config names (none
// for --config ""), or the search path for the storage directory and this binary.
func (o *connOpts) configs(fl *pflag.FlagSet) []string {
	if fl.Changed("config") {
		if o.config == "" {
			return nil
		}
		return []string{o.config}
	}
	self, _ := os.Executable()
	return agent.ConfigSearchPath(o.storage, self)
}

// checkSendable says why the runner cannot report to ep; searched are the configs looked
// for and not found.
func checkSendable(ep agent.Endpoint, searched ...string) error {
	switch {
	case ep.MetadataURL == "" && len(searched) > 0:
		return fmt.Errorf("no metadata URL: no config in %s: give --url or --config FILE (or --no-send --no-download)", strings.Join(searched, ", "))
	case ep.MetadataURL == "":
		return errors.New("no metadata URL: give --url or a --config with metadata_url (or --no-send --no-download)")
	case ep.TokenSecret == "" || ep.TokenKey == "" || ep.ConsumerKey == "":
		return errors.New("incomplete machine credentials: give the consumer key, token key and token secret (a machine with none enlists itself), or use --no-send")
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
	fl.BoolVar(&o.noSend, "no-send", false, "send nothing (no heartbeat, no signal): download the scripts again (unless --no-download), run them all and keep the results in the journal for send")
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
	if err := o.retry.check(); err != nil {
		return err
	}
	o.conn.storage = storage
	ep, err := o.conn.endpoint(ctx, cmd.Flags(), o.noSend && o.noDownload, out)
	if err != nil {
		return err
	}
	if !o.noSend && needsEnlisting(ep) {
		return runEnlist(ctx, cmd, o, storage, ep)
	}
	if !o.noSend || !o.noDownload {
		if err := checkSendable(ep, o.conn.searched...); err != nil {
			if o.noSend {
				return fmt.Errorf("--no-send downloads the scripts again: %w", err)
			}
			return err
		}
	}
	a, err := newAgent(cmd, storage, ep, o.noSend, o.retry, o.machineRoot)
	if err != nil {
		return err
	}
	a.NoDownload = o.noDownload
	a.MaxOutput = maxOutput
	a.TimeoutGrace = o.timeoutGrace
	if o.noSend && !o.noDownload {
		// As the guide says: download again, run everything, send nothing. The agent's
		// NoSend makes no request at all, so the download is done here, with the agent
		// then running what it fetched.
		ok, err := downloadScripts(ctx, a, ep, o.retry, "--no-send: nothing is sent")
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(out, "The region has no scripts for this machine now (204 No Content): nothing to run; --no-download runs those already in %s.\n", storage)
			return nil
		}
		a.NoDownload = true
	}
	if err := agent.Prioritize(); err != nil {
		a.Log.Debug("runner priority not raised", "error", err)
	}
	sum, err := a.Run(ctx)
	if o.noSend && sum.RunID != "" {
		if ep.MetadataURL != "" {
			fmt.Fprintf(out, "The kept results are for the region at %s (recorded in %s).\n", ep.MetadataURL, filepath.Join(agent.RunDir(storage, sum.RunID), "run.json"))
		} else {
			fmt.Fprintf(out, "No region is known for the kept results: send needs --config FILE, or --url and the credentials.\n")
		}
	}
	return err
}

// errReader remembers the error of the reader it wraps, to tell a broken download from a
// malformed archive.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

// downloadScripts fetches and extracts the region's scripts into a's storage directory for
// run --no-send, retrying a failed request or a broken transfer with a's backoff until
// --give-up-after (a refused token twice in a row stops it). ok is false when the region
// has nothing to run (204). It sends nothing.
func downloadScripts(ctx context.Context, a *agent.Agent, ep agent.Endpoint, retry retryOpts, why string) (ok bool, err error) {
	region := agent.NewRegion(ep, retry.idleTimeout)
	scripts := filepath.Join(a.StorageDir, "scripts")
	fmt.Fprintf(a.Out, "Downloading and extracting %smaas-scripts to %s (%s)\n", ep.MetadataURL, scripts, why)
	first, refused := time.Now(), 0
	for attempt := 1; ; attempt++ {
		body, ok, err := region.Scripts(ctx)
		if err == nil {
			if !ok {
				return false, nil
			}
			er := &errReader{r: body}
			err = agent.ExtractScripts(er, scripts, filepath.Join(a.StorageDir, "config"))
			body.Close()
			if err == nil {
				return true, nil
			}
			if er.err == nil {
				return false, fmt.Errorf("refused the scripts from %s: %w", ep.MetadataURL, err)
			}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if client.IsCertificateError(err) {
			return false, fmt.Errorf("%w: %w", agent.ErrUntrustedRegion, err)
		}
		var he *agent.HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusUnauthorized {
			// The first 401 taught the signer the region's clock; a second one refuses the
			// credentials themselves.
			if refused++; refused >= 2 {
				return false, fmt.Errorf("%w: %w", agent.ErrUnauthorized, err)
			}
			continue
		}
		if retry.giveUpAfter > 0 && time.Since(first) >= retry.giveUpAfter {
			return false, fmt.Errorf("download scripts from %s: gave up after %s: %w", ep.MetadataURL, retry.giveUpAfter, err)
		}
		d := agent.DefaultBackoff.Delay(attempt)
		a.Log.Warn("download scripts failed; retrying", "error", err, "in", d.Round(time.Millisecond))
		if err := sleepContext(ctx, d); err != nil {
			return false, err
		}
	}
}

// sleepContext waits d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
		Out:         selfNamer{w: cmd.OutOrStdout(), name: selfName()},
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

// selfName is the command that starts this binary again as it was started: os.Args[0] as
// given (made absolute when it is a path, so that it works from any directory), quoted for
// sh. The user data's runner is /tmp/user_data.sh.XXXXXX/bin/maas-run-remote-scripts, which
// is on no PATH.
func selfName() string {
	name := os.Args[0]
	if strings.Contains(name, "/") {
		if abs, err := filepath.Abs(name); err == nil {
			name = abs
		}
	}
	return shQuote(name)
}

// shQuote quotes s for sh when it needs it.
func shQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./+:=@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// selfNamer rewrites the commands the agent suggests ("`maas-run-scripts send DIR`") to
// name this binary as it was started, so that they run as printed. The agent writes each
// line with one Write.
type selfNamer struct {
	w    io.Writer
	name string
}

func (s selfNamer) Write(p []byte) (int, error) {
	const hint = "`maas-run-scripts "
	if s.name == "maas-run-scripts" || !bytes.Contains(p, []byte(hint)) {
		return s.w.Write(p)
	}
	if _, err := s.w.Write(bytes.ReplaceAll(p, []byte(hint), []byte("`"+s.name+" "))); err != nil {
		return 0, err
	}
	return len(p), nil
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
