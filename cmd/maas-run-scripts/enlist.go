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

// enlistment is a run by a machine the region does not know: it has the region's metadata URL
// but no token secret (protocol.md §6.9). It asks whether the machine is registered, runs the
// enlistment scripts anonymously with their results held in the journal, enlists the machine
// (an unsigned machines create with commission=True), takes the token from the machine's
// preseed and then sends the held results with it, so the machine ends New.
type enlistment struct {
	ep      agent.Endpoint
	base    string // http://host:5240/MAAS: the metadata URL without its /metadata/ part
	api     *client.Client
	retry   retryOpts
	storage string
	config  string // the --config file to overwrite with the preseed, "" for none
	root    string // --machine-root
}

// enlistBase is the region's root (…/MAAS) of a metadata URL (…/MAAS/metadata/2012-03-01/).
func enlistBase(metadataURL string) (string, error) {
	i := strings.LastIndex(metadataURL, "/metadata/")
	if i < 0 {
		return "", fmt.Errorf("metadata URL %s has no /metadata/ part to find the region's API from", metadataURL)
	}
	return metadataURL[:i], nil
}

// needsEnlisting reports whether a run with ep must enlist the machine first: it knows the
// region but has no machine token.
func needsEnlisting(ep agent.Endpoint) bool {
	return ep.MetadataURL != "" && ep.TokenSecret == "" && ep.TokenKey == ""
}

// runEnlist is run for a machine without credentials.
func runEnlist(ctx context.Context, cmd *cobra.Command, o runOpts, storage string, ep agent.Endpoint) error {
	out := cmd.OutOrStdout()
	base, err := enlistBase(ep.MetadataURL)
	if err != nil {
		return err
	}
	hc, err := httpClient(ep.TLS, o.retry.idleTimeout)
	if err != nil {
		return err
	}
	e := &enlistment{ep: ep, base: base, retry: o.retry, storage: storage, root: o.machineRoot,
		api: client.New(wire.Credentials{}, hc)}
	if cmd.Flags().Changed("config") && o.conn.config != "" && !strings.Contains(o.conn.config, "://") {
		e.config = o.conn.config
	} else if strings.HasPrefix(o.conn.config, "file://") {
		e.config = strings.TrimPrefix(o.conn.config, "file://")
	}
	arch, macs, err := e.identity()
	if err != nil {
		return err
	}
	registered, err := e.isRegistered(ctx, macs)
	if err != nil {
		return err
	}
	if registered {
		fmt.Fprintf(out, "This machine (%s) is already registered with the region at %s: nothing to enlist.\n", strings.Join(macs, ", "), base)
		return nil
	}
	fmt.Fprintf(out, "Enlisting machine: no machine token; running the region's enlistment scripts with their results held until it is enlisted\n")
	a, err := newAgent(cmd, storage, ep, true, o.retry, o.machineRoot)
	if err != nil {
		return err
	}
	a.Held = "the machine is not enlisted yet"
	a.MaxOutput, err = parseMaxOutput(o.maxOutput)
	if err != nil {
		return err
	}
	a.TimeoutGrace = o.timeoutGrace
	if !o.noDownload {
		ok, err := downloadScripts(ctx, a, ep, o.retry, "anonymously, to enlist")
		var he *agent.HTTPError
		if errors.Is(err, agent.ErrUnauthorized) && errors.As(err, &he) {
			return fmt.Errorf("the region at %s does not let machines enlist themselves: %w", base, he)
		} else if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the region at %s has no enlistment scripts (204): is anonymous enlistment turned off (enable_anonymous_enlistment)?", base)
		}
	}
	a.NoDownload = true
	if err := agent.Prioritize(); err != nil {
		a.Log.Debug("runner priority not raised", "error", err)
	}
	sum, runErr := a.Run(ctx)
	if sum.RunID == "" {
		return runErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	systemID, hostname, err := e.enlist(ctx, arch, macs)
	if err != nil {
		return fmt.Errorf("the results are kept in %s: %w", agent.RunDir(storage, sum.RunID), err)
	}
	fmt.Fprintf(out, "Enlisted as machine %s (%s)\n", systemID, hostname)
	creds, err := e.preseed(ctx, systemID)
	if err != nil {
		return fmt.Errorf("machine %s was enlisted but its preseed was not read (the results are kept in %s): %w",
			systemID, agent.RunDir(storage, sum.RunID), err)
	}
	rep, err := a.SendRun(ctx, sum.RunID, agent.NewRegion(creds, o.retry.idleTimeout))
	if err != nil {
		return fmt.Errorf("send the held results of machine %s: %w", systemID, err)
	}
	fmt.Fprintf(out, "%d held signals sent: machine %s is enlisted; an administrator commissions it next\n", rep.Sent, systemID)
	return runErr
}

// identity is the machine's Debian architecture and physical MAC addresses.
func (e *enlistment) identity() (string, []string, error) {
	m, err := agent.UnameMachine()
	if err != nil {
		return "", nil, fmt.Errorf("find the architecture to enlist with: %w", err)
	}
	arch, err := wire.MachineArch(m)
	if err != nil {
		return "", nil, fmt.Errorf("find the architecture to enlist with: %w", err)
	}
	roots := collectors.HostRoots()
	if e.root != "" {
		roots = collectors.RootsAt(e.root)
	}
	macs, err := collectors.PhysicalMACs(collectors.NewFS(roots, nil))
	if err != nil {
		return "", nil, fmt.Errorf("find the MAC addresses to enlist with: %w", err)
	}
	if len(macs) == 0 {
		return "", nil, errors.New("enlist: this machine has no physical network interface to be known by")
	}
	return arch, macs, nil
}

// call makes one anonymous request, retrying a failure that is not the region's answer
// with the runner's backoff until --give-up-after (or 2 minutes when that is unset, as the
// machine has nothing to fall back on). A 4xx answer is final.
func (e *enlistment) call(ctx context.Context, what string, r func() *client.Request) ([]byte, error) {
	limit := e.retry.giveUpAfter
	if limit <= 0 {
		limit = 2 * time.Minute
	}
	first := time.Now()
	for attempt := 1; ; attempt++ {
		body, err := e.api.Call(ctx, r())
		var ce *client.Error
		switch {
		case err == nil:
			return body, nil
		case errors.As(err, &ce) && ce.StatusCode/100 == 4:
			return nil, fmt.Errorf("%s: %w", what, err)
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case time.Since(first) >= limit:
			return nil, fmt.Errorf("%s: gave up after %s: %w", what, limit, err)
		}
		if err := sleepContext(ctx, agent.DefaultBackoff.Delay(attempt)); err != nil {
			return nil, err
		}
	}
}

// isRegistered asks GET machines/?op=is_registered for the machine's MACs.
func (e *enlistment) isRegistered(ctx context.Context, macs []string) (bool, error) {
	q := url.Values{"op": {"is_registered"}, "mac_address": {strings.Join(macs, ",")}}
	body, err := e.call(ctx, "ask the region whether this machine is registered", func() *client.Request {
		return &client.Request{Method: http.MethodGet, URL: e.base + "/api/2.0/machines/?" + q.Encode()}
	})
	if err != nil {
		return false, err
	}
	var registered bool
	if err := json.Unmarshal(body, &registered); err != nil {
		return false, fmt.Errorf("is_registered: the region answered %.100q, not true or false", body)
	}
	return registered, nil
}

// enlist creates the machine: an unsigned, urlencoded POST machines/ with its architecture,
// MACs and commission=True, as upstream's runner sends it.
func (e *enlistment) enlist(ctx context.Context, arch string, macs []string) (systemID, hostname string, err error) {
	form := url.Values{"architecture": {arch}, "mac_addresses": {strings.Join(macs, ",")}, "commission": {"True"}}
	body, err := e.call(ctx, "enlist the machine", func() *client.Request {
		return &client.Request{Method: http.MethodPost, URL: e.base + "/api/2.0/machines/", Body: client.Form(form)}
	})
	if err != nil {
		return "", "", err
	}
	var m struct {
		SystemID string `json:"system_id"`
		Hostname string `json:"hostname"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.SystemID == "" {
		return "", "", fmt.Errorf("enlist the machine: the region's answer names no system_id: %.200s", body)
	}
	return m.SystemID, m.Hostname, nil
}

// preseed reads the machine's preseed (GET by-id/<id>/?op=get_preseed), keeps it where the
// runner looks for credentials (STORAGE_DIR/creds.yaml, and over the --config file as
// upstream) and returns the endpoint it names.
func (e *enlistment) preseed(ctx context.Context, systemID string) (agent.Endpoint, error) {
	u := e.base + "/metadata/latest/by-id/" + url.PathEscape(systemID) + "/?op=get_preseed"
	body, err := e.call(ctx, "read the machine's preseed", func() *client.Request {
		return &client.Request{Method: http.MethodGet, URL: u}
	})
	if err != nil {
		return agent.Endpoint{}, err
	}
	cfg, err := agent.ParseConfig(body)
	if err != nil {
		return agent.Endpoint{}, fmt.Errorf("the machine's preseed: %w", err)
	}
	if cfg.TokenKey == "" || cfg.TokenSecret == "" || cfg.ConsumerKey == "" || cfg.MetadataURL == "" {
		return agent.Endpoint{}, errors.New("the machine's preseed has no metadata URL or token")
	}
	apiver := strings.TrimSuffix(e.ep.MetadataURL, "/")
	apiver = apiver[strings.LastIndex(apiver, "/")+1:]
	mu, err := agent.MetadataURL(cfg.MetadataURL, apiver)
	if err != nil {
		return agent.Endpoint{}, err
	}
	for _, p := range []string{filepath.Join(e.storage, "creds.yaml"), e.config} {
		if p == "" {
			continue
		}
		if err := writePrivate(p, body); err != nil {
			return agent.Endpoint{}, err
		}
	}
	return agent.Endpoint{MetadataURL: mu, Credentials: cfg.Credentials, TLS: e.ep.TLS}, nil
}

// writePrivate writes data to path, readable by its owner only, through a temporary file.
func writePrivate(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".creds-*")
	if err != nil {
		return fmt.Errorf("keep the machine's credentials: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("keep the machine's credentials in %s: %w", path, err)
	}
	return nil
}
