package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"maasgo/agent"
	"maasgo/client"
	"maasgo/collectors"
	"maasgo/wire"
)

// apiTimeout bounds each API request of register-machine and get-machine-token; upstream
// makes them once, without retries.
const apiTimeout = 2 * time.Minute

// apiClient makes the API 2.0 requests of register-machine and get-machine-token, signed
// with an administrator's API key.
type apiClient struct {
	base  string // http://host:5240/MAAS, without a trailing "/"
	c     *client.Client
	trust client.Trust // how the region's certificate is checked, kept in the credentials file
}

// newAPIClient checks the MAAS URL and the API key given on the command line. idle is the
// longest a request may go without a byte moving (the answer's body included); tls the TLS
// flags.
func newAPIClient(maasURL, apiKey string, idle time.Duration, tls *trustOpts) (*apiClient, error) {
	if idle <= 0 {
		return nil, fmt.Errorf("--idle-timeout must be positive, not %s", idle)
	}
	base := strings.TrimRight(strings.TrimSpace(maasURL), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid MAAS URL %q: want http(s)://host[:port]/MAAS", maasURL)
	}
	creds, err := wire.ParseCredentials(apiKey)
	if err != nil {
		return nil, fmt.Errorf("invalid API key: %w", err)
	}
	trust, err := tls.flagTrust()
	if err != nil {
		return nil, err
	}
	hc, err := httpClient(trust, idle)
	if err != nil {
		return nil, err
	}
	c := client.New(creds, hc)
	c.UserAgent = "maas-run-scripts"
	return &apiClient{base: base, c: c, trust: storedTrust(trust)}, nil
}

// creds is the credentials file of machine systemID: its token, the region's status
// endpoint and the TLS settings this command checked the region with (--insecure is not
// kept: report-results needs it again).
func (a *apiClient) creds(systemID string, tok wire.Credentials) agent.Creds {
	c := agent.NewCreds(a.base, systemID, tok)
	c.TLS = a.trust
	return c
}

// do makes one call of path (below the API root, e.g. "machines/") as upstream's CLI lays it
// out, and returns the body of a 2xx; another answer is a *client.Error.
func (a *apiClient) do(ctx context.Context, method, path, op string, parts []client.Part) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	r, err := client.NewAPIRequest(method, a.base+"/api/2.0/"+path, op, parts)
	if err != nil {
		return nil, err
	}
	body, err := a.c.Call(ctx, r)
	var ce *client.Error
	switch {
	case err == nil:
		return body, nil
	case !errors.As(err, &ce):
		return nil, fmt.Errorf("cannot reach the region at %s: %w", a.base, err)
	case ce.StatusCode == http.StatusUnauthorized:
		return nil, fmt.Errorf("the region refused the API key (401): %s", ce.Message())
	}
	return nil, err
}

// createMachine adds a machine (POST machines/) and returns its system id.
func (a *apiClient) createMachine(ctx context.Context, parts []client.Part) (string, error) {
	body, err := a.do(ctx, http.MethodPost, "machines/", "", parts)
	if err != nil {
		return "", err
	}
	var m struct {
		SystemID string `json:"system_id"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.SystemID == "" {
		return "", fmt.Errorf("the region's answer names no system_id: %.200s", body)
	}
	return m.SystemID, nil
}

// machineToken fetches a machine's token (GET machines/<id>/?op=get_token).
func (a *apiClient) machineToken(ctx context.Context, systemID string) (wire.Credentials, error) {
	body, err := a.do(ctx, http.MethodGet, "machines/"+url.PathEscape(systemID)+"/", "get_token", nil)
	var ce *client.Error
	if errors.As(err, &ce) && ce.StatusCode == http.StatusNotFound {
		return wire.Credentials{}, fmt.Errorf("no machine with system id %q on the region (404)", systemID)
	}
	if err != nil {
		return wire.Credentials{}, err
	}
	var tok *struct {
		ConsumerKey string `json:"consumer_key"`
		TokenKey    string `json:"token_key"`
		TokenSecret string `json:"token_secret"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return wire.Credentials{}, fmt.Errorf("the region's answer is not a token: %.200s", body)
	}
	if tok == nil || tok.TokenKey == "" || tok.TokenSecret == "" || tok.ConsumerKey == "" {
		return wire.Credentials{}, errors.New("credentials not found: the region has no token for this machine")
	}
	return wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}, nil
}

// systemIDOf finds a machine by hostname; "" when there is none or the lookup fails.
func (a *apiClient) systemIDOf(ctx context.Context, hostname string) string {
	body, err := a.do(ctx, http.MethodGet, "machines/", "", []client.Part{{Name: "hostname", Value: hostname}})
	if err != nil {
		return ""
	}
	var ms []struct {
		SystemID string `json:"system_id"`
	}
	if json.Unmarshal(body, &ms) != nil || len(ms) != 1 {
		return ""
	}
	return ms[0].SystemID
}

// pendingFile is a file written atomically: a temporary file in the target's directory,
// created before any request so that an unwritable path fails first, renamed into place.
type pendingFile struct {
	path string
	tmp  *os.File
}

func prepareFile(path string) (*pendingFile, error) {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("cannot write the credentials file %s: it is a directory", path)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("cannot write the credentials file %s: %w", path, unwrapPath(err))
	}
	return &pendingFile{path: path, tmp: f}, nil
}

// unwrapPath drops the temporary file's name from an error about creating it.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// commit writes data with mode 0600 and renames the file into place.
func (p *pendingFile) commit(data []byte) error {
	f := p.tmp
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write the credentials file %s: %w", p.path, err)
	}
	return nil
}

// abort removes the temporary file.
func (p *pendingFile) abort() {
	p.tmp.Close()
	os.Remove(p.tmp.Name())
}

// registerOpts are the flags of register-machine.
type registerOpts struct {
	hostname    string
	arch        string
	macs        []string
	baseDir     string
	machineRoot string
	idleTimeout time.Duration
	tls         trustOpts
}

// newRegisterMachineCmd builds "register-machine".
//
// Synopsis:
//
//	maas-run-scripts register-machine [--hostname H] [--arch A] [--mac M ...] MAAS_URL API_KEY
//
// It adds the machine it runs on to the region as an already deployed machine (POST
// machines/ with deployed=true), fetches the machine's token and writes
// <base-dir>/<hostname>-creds.yaml (mode 0600) for report-results. The hostname defaults to
// the short host name; the architecture to this machine's (Debian name of uname -m); the
// MAC addresses to those of its physical network interfaces.
func newRegisterMachineCmd() *cobra.Command {
	var o registerOpts
	cmd := &cobra.Command{
		Use:   "register-machine [flags] MAAS_URL API_KEY",
		Short: "Add this machine, already running a workload, to MAAS as deployed and save its credentials",
		Long: `Add the machine this runs on to the region as a deployed machine and write its
credentials to HOSTNAME-creds.yaml, for report-results. MAAS_URL is the region's URL
(http://host:5240/MAAS); API_KEY an administrator's key (consumer:token:secret).`,
		Args:         cobra.ExactArgs(2),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRegisterMachine(cmd, o, args[0], args[1])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.hostname, "hostname", "", "the machine's `name` in MAAS (default: this machine's short host name)")
	fl.StringVar(&o.arch, "arch", "", "the machine's `architecture`, e.g. amd64 (default: this machine's)")
	fl.StringSliceVar(&o.macs, "mac", nil, "a `MAC` address of the machine; repeat for several (default: those of its physical network interfaces)")
	fl.StringVar(&o.baseDir, "base-dir", ".", "write the credentials file in `DIR`")
	fl.MarkHidden("base-dir")
	fl.StringVar(&o.machineRoot, "machine-root", "", "read /sys below `DIR` to find the network interfaces")
	fl.MarkHidden("machine-root")
	addIdleFlag(fl, &o.idleTimeout, true)
	o.tls.addFlags(fl)
	return cmd
}

func runRegisterMachine(cmd *cobra.Command, o registerOpts, maasURL, apiKey string) error {
	c, err := newAPIClient(maasURL, apiKey, o.idleTimeout, &o.tls)
	if err != nil {
		return err
	}
	hostname := o.hostname
	if hostname == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("find the host name (give --hostname): %w", err)
		}
		hostname, _, _ = strings.Cut(h, ".")
	}
	if hostname == "" || strings.ContainsAny(hostname, "/\x00") {
		return fmt.Errorf("invalid hostname %q", hostname)
	}
	arch := o.arch
	if arch == "" {
		m, err := agent.UnameMachine()
		if err == nil {
			arch, err = wire.MachineArch(m)
		}
		if err != nil {
			return fmt.Errorf("find the architecture (give --arch): %w", err)
		}
	}
	macs := o.macs
	if !cmd.Flags().Changed("mac") {
		roots := collectors.HostRoots()
		if o.machineRoot != "" {
			roots = collectors.RootsAt(o.machineRoot)
		}
		if macs, err = collectors.PhysicalMACs(collectors.NewFS(roots, nil)); err != nil {
			return fmt.Errorf("find the MAC addresses (give --mac): %w", err)
		}
	}
	path := filepath.Join(o.baseDir, hostname+"-creds.yaml")
	pf, err := prepareFile(path)
	if err != nil {
		return err
	}
	defer pf.abort()

	ctx := cmdContext(cmd)
	parts := []client.Part{{Name: "hostname", Value: hostname}, {Name: "architecture", Value: arch}, {Name: "deployed", Value: "true"}}
	for _, m := range macs {
		parts = append(parts, client.Part{Name: "mac_addresses", Value: m})
	}
	id, err := c.createMachine(ctx, parts)
	if err != nil {
		var ce *client.Error
		if errors.As(err, &ce) && ce.StatusCode == http.StatusBadRequest {
			// Registered before (its MAC addresses or its name are taken): say how to get
			// the existing machine's credentials instead.
			if other := c.systemIDOf(ctx, hostname); other != "" {
				return fmt.Errorf("machine creation failed: %w (%s is already machine %s; `maas-run-scripts get-machine-token %s API_KEY %s %s` writes its credentials)",
					err, hostname, other, c.base, other, path)
			}
		}
		return fmt.Errorf("machine creation failed: %w", err)
	}
	tok, err := c.machineToken(ctx, id)
	if err != nil {
		return fmt.Errorf("machine %s (%s) was created, but getting its credentials failed (`maas-run-scripts get-machine-token` retries): %w", hostname, id, err)
	}
	data, err := c.creds(id, tok).Marshal()
	if err != nil {
		return err
	}
	if err := pf.commit(data); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Machine %s (%s, %s, %d MAC addresses) registered as deployed; its credentials are in %s\n",
		hostname, id, arch, len(macs), path)
	fmt.Fprintf(cmd.OutOrStdout(), "Report its hardware with: maas-run-scripts report-results --config %s\n", path)
	return nil
}
