package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"maasgo/agent/netstate"
	"maasgo/wire"
)

// DefaultNetconfProbe is how long the runner waits for the region to answer after it applied
// the configured networking before it gives up on that configuration (upstream's signal
// retries take about 64 s).
const DefaultNetconfProbe = 64 * time.Second

// restoreTimeout bounds putting the previous network back, which goes on after the run was
// told to stop (SIGTERM) or a script timed out.
const restoreTimeout = 2 * time.Minute

func (r *run) netplanDir() string { return filepath.Join(r.a.Roots.Etc, "netplan") }
func (r *run) netplanBackup() string {
	return filepath.Join(r.configDir, "netplan.bak")
}

// netstateFile is where the network as it was before configured networking is kept while
// the configuration is applied, so that a runner that crashed puts it back when it starts.
func (r *run) netstateFile() string { return filepath.Join(r.configDir, "netstate.json") }

// applyNetconf applies the machine's configured networking (config/netplan.yaml from the
// scripts tar) before a batch of apply_configured_networking scripts (protocol.md §6.7):
// the network as it is is saved (config/netstate.json), the ephemeral netplan files are moved
// to config/netplan.bak and the configured netplan installed; then netplan applies it when
// the machine has netplan (the links taken down first, as upstream does), else the runner
// applies it itself through netlink (netstate.Apply); a signal then proves that the region
// is still reachable. On failure the previous network is restored and every script of the
// group gets a FAILED_APPLYING_NETCONF result. It reports whether the scripts may run; the
// caller restores the network after them (restoreNetconf) whatever happens.
func (r *run) applyNetconf(ctx context.Context, pc *phaseCtx, group []*Script) bool {
	for _, s := range group {
		r.emitStep(pc, s, "netconf", s.ScriptSignal(wire.SignalApplyingNetconf,
			"Applying custom network configuration for "+s.MsgName()))
	}
	o := r.outputs(group[0])
	const failed = "Failed to apply custom network configuration for %s"
	fail := func(exit int, diag, msg string) bool {
		r.failGroup(pc, group, o, wire.SignalApplyingNetconf, wire.ScriptFailedApplyingNetconf, exit, diag, msg)
		return false
	}
	if err := o.reset(); err != nil {
		return fail(1, err.Error(), failed)
	}
	src := filepath.Join(r.configDir, "netplan.yaml")
	data, err := os.ReadFile(src)
	if err != nil {
		return fail(1, fmt.Sprintf("Unable to apply custom network configuration for %s.\n\nnetplan.yaml is missing from tar.", group[0].MsgName()),
			"Unable to apply custom network configuration for %s.\n\nnetplan.yaml is missing from tar.")
	}
	doc, unknown, err := wire.DecodeNetplan(data)
	if err != nil {
		return fail(1, fmt.Sprintf("the region's netplan.yaml cannot be applied: %v", err), failed)
	}
	sink, err := openSink(o, r.maxOutput())
	if err != nil {
		return fail(1, err.Error(), failed)
	}
	// undo puts the previous network back after a failure, once the output is closed (its
	// files go with the failed results).
	undo := func(exit int, diag, msg string) bool {
		sink.Close()
		r.restoreNetconf(ctx)
		return fail(exit, diag, msg)
	}
	net := r.network()
	if net != nil {
		if err := r.saveNetstate(net); err != nil {
			sink.Close()
			return fail(1, err.Error(), failed)
		}
	}
	if err := r.backupNetplan(src); err != nil {
		return undo(1, err.Error(), failed)
	}
	switch {
	case r.netplanInstalled():
		r.bringDownNetworking(ctx, sink.Stdout, sink.Stderr)
		if f := r.runInstaller(ctx, sink, nil, r.privileged("netplan", "apply", "--debug")...); f != nil {
			return undo(f.exit, "", failed)
		}
		r.waitForNetworkd(ctx, sink.Stdout, sink.Stderr)
	case net != nil:
		fmt.Fprintln(sink.Stdout, "netplan is not installed: the runner applies the configuration through netlink")
		for _, k := range unknown {
			fmt.Fprintf(sink.Stdout, "%s: not applied (not something the runner applies without netplan)\n", k)
		}
		if err := net.Apply(ctx, doc, netstate.ApplyOptions{Log: sink.Stdout}); err != nil {
			return undo(1, err.Error(), failed)
		}
	default:
		return undo(1, fmt.Sprintf("netplan is not installed under %s, and the runner applies the configuration itself only "+
			"to the machine it runs on (its roots read %s, not /sys)", orRoot(r.a.Roots.Root), r.a.Roots.Sys), failed)
	}
	r.forgetDevices()
	if r.up != nil {
		rec, _ := r.emit("", kindSignal, Signal{Status: wire.SignalApplyingNetconf, Error: "User netplan config applied"}, nil)
		if err := r.up.waitSent(ctx, rec.Seq, r.netconfProbe()); err != nil {
			return undo(1, fmt.Sprintf("%v", err),
				"Unable to communicate to the MAAS metadata service after applying custom network configuration.")
		}
	}
	sink.Close()
	return true
}

func orRoot(root string) string {
	if root == "" {
		return "the machine tree"
	}
	return root
}

func (r *run) netconfProbe() time.Duration {
	if r.a.NetconfProbe > 0 {
		return r.a.NetconfProbe
	}
	return DefaultNetconfProbe
}

// saveNetstate keeps the network as it is in config/netstate.json. A file left by a crash
// is kept: it holds the network from before that run's configuration.
func (r *run) saveNetstate(net Network) error {
	if _, err := os.Stat(r.netstateFile()); err == nil {
		return nil
	}
	st, err := net.Take()
	if err != nil {
		return fmt.Errorf("read the network before applying the configuration: %w", err)
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("save the network state: %w", err)
	}
	if err := os.MkdirAll(r.configDir, 0o755); err != nil {
		return fmt.Errorf("save the network state: %w", err)
	}
	tmp := r.netstateFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save the network state: %w", err)
	}
	if err := os.Rename(tmp, r.netstateFile()); err != nil {
		return fmt.Errorf("save the network state: %w", err)
	}
	return nil
}

// backupNetplan moves the ephemeral netplan files aside and installs src.
func (r *run) backupNetplan(src string) error {
	dir, backup := r.netplanDir(), r.netplanBackup()
	if err := os.MkdirAll(backup, 0o755); err != nil {
		return fmt.Errorf("back up netplan: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("back up netplan: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("back up netplan: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(dir, e.Name()), filepath.Join(backup, e.Name())); err != nil {
			return fmt.Errorf("back up netplan: %w", err)
		}
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("install netplan.yaml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "netplan.yaml"), data, 0o600); err != nil {
		return fmt.Errorf("install netplan.yaml: %w", err)
	}
	return nil
}

// restoreNetconf puts the previous network back, when configured networking changed it (after
// a batch, after a failure, or at start-up after a crash): the ephemeral netplan files, applied
// again with netplan when the machine has it, then the saved network state, restored exactly
// through netlink. It runs to the end even when ctx has ended (SIGTERM), within
// restoreTimeout.
func (r *run) restoreNetconf(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	dir, backup := r.netplanDir(), r.netplanBackup()
	entries, backupErr := os.ReadDir(backup)
	_, stateErr := os.Stat(r.netstateFile())
	if errors.Is(backupErr, os.ErrNotExist) && errors.Is(stateErr, os.ErrNotExist) {
		return
	}
	out := logWriter{r}
	if backupErr == nil {
		if err := os.Remove(filepath.Join(dir, "netplan.yaml")); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.logf("restore netplan: %v", err)
		}
		for _, e := range entries {
			if err := os.Rename(filepath.Join(backup, e.Name()), filepath.Join(dir, e.Name())); err != nil {
				r.logf("restore netplan: %v", err)
			}
		}
		if err := os.Remove(backup); err != nil {
			r.logf("restore netplan: %v", err)
		}
		if r.netplanInstalled() {
			r.bringDownNetworking(ctx, out, out)
			rc, err := r.commands().Run(ctx, r.privileged("netplan", "apply", "--debug"), nil, out, out)
			if err != nil || rc != 0 {
				r.logf("WARNING: netplan apply --debug failed (exit %d, %v) while restoring the ephemeral configuration", rc, err)
			}
			r.waitForNetworkd(ctx, out, out)
		}
	}
	if stateErr == nil {
		r.restoreNetstate()
	}
	r.forgetDevices()
	r.emit("", kindSignal, Signal{Status: wire.SignalApplyingNetconf, Error: "ephemeral netplan applied"}, nil)
}

// restoreNetstate restores the saved network state; the file goes once it is restored, and
// stays (for the next start) when it could not be.
func (r *run) restoreNetstate() {
	net := r.network()
	if net == nil {
		r.logf("WARNING: %s is kept: the runner changes the network only of the machine it runs on", r.netstateFile())
		return
	}
	data, err := os.ReadFile(r.netstateFile())
	var st netstate.State
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		r.logf("WARNING: the saved network state cannot be read (%v); it is not restored", err)
		_ = os.Remove(r.netstateFile())
		return
	}
	if err := net.Restore(&st); err != nil {
		r.logf("WARNING: the network is not back as it was: %v", err)
		return
	}
	if err := os.Remove(r.netstateFile()); err != nil {
		r.logf("restore the network: %v", err)
	}
}

// bringDownNetworking deletes the virtual links and takes every other link but lo down, so
// that netplan applies to a clean state. It is best effort, as upstream.
func (r *run) bringDownNetworking(ctx context.Context, stdout, stderr io.Writer) {
	for _, step := range []struct {
		dir  string
		verb []string
	}{
		{filepath.Join(r.a.Roots.Sys, "devices", "virtual", "net"), []string{"ip", "link", "delete"}},
		{filepath.Join(r.a.Roots.Sys, "class", "net"), []string{"ip", "link", "set", "down"}},
	} {
		entries, _ := os.ReadDir(step.dir)
		for _, e := range entries {
			if e.Name() == "lo" {
				continue
			}
			if _, err := os.Stat(filepath.Join(step.dir, e.Name(), "address")); err != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			r.commands().Run(cctx, r.privileged(append(step.verb, e.Name())...), nil, stdout, stderr)
			cancel()
		}
	}
}

// waitForNetworkd waits for systemd-networkd to be active, restarting it if it failed, for
// up to ten tries half a second apart.
func (r *run) waitForNetworkd(ctx context.Context, stdout, stderr io.Writer) {
	for try := 0; try < 10; try++ {
		rc, err := r.commands().Run(ctx, []string{"systemctl", "is-active", "--quiet", "systemd-networkd.service"}, nil, stdout, stderr)
		if err == nil && rc == 0 {
			return
		}
		r.commands().Run(ctx, r.privileged("systemctl", "reset-failed", "systemd-networkd.service"), nil, stdout, stderr)
		r.commands().Run(ctx, r.privileged("systemctl", "restart", "--job-mode=fail", "systemd-networkd.service"), nil, stdout, stderr)
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
	r.logf("WARNING: systemd-networkd did not come back up")
}
