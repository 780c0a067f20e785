package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"maasgo/wire"
)

// DefaultNetconfProbe is how long the runner waits for the region to answer after it applied
// the configured networking before it gives up on that configuration (upstream's signal
// retries take about 64 s).
const DefaultNetconfProbe = 64 * time.Second

func (r *run) netplanDir() string { return filepath.Join(r.a.Roots.Etc, "netplan") }
func (r *run) netplanBackup() string {
	return filepath.Join(r.configDir, "netplan.bak")
}

// applyNetconf applies the machine's configured networking (config/netplan.yaml from the
// scripts tar) before a batch of apply_configured_networking scripts (protocol.md §6.7):
// the ephemeral netplan files are moved to config/netplan.bak, the links are taken down,
// netplan applies the new configuration, and a signal proves that the region is still
// reachable. On failure the ephemeral configuration is restored and every script of the group
// gets a FAILED_APPLYING_NETCONF result. It reports whether the scripts may run.
func (r *run) applyNetconf(ctx context.Context, pc *phaseCtx, group []*Script) bool {
	for _, s := range group {
		r.emitStep(pc, s, "netconf", r.scriptSignal(s, wire.SignalApplyingNetconf,
			"Applying custom network configuration for "+s.MsgName()))
	}
	o := r.outputs(group[0])
	fail := func(exit int, diag, msg string) bool {
		r.failGroup(pc, group, o, wire.SignalApplyingNetconf, wire.ScriptFailedApplyingNetconf, exit, diag, msg)
		return false
	}
	if err := o.reset(); err != nil {
		return fail(1, err.Error(), "Failed to apply custom network configuration for %s")
	}
	src := filepath.Join(r.configDir, "netplan.yaml")
	if _, err := os.Stat(src); err != nil {
		return fail(1, fmt.Sprintf("Unable to apply custom network configuration for %s.\n\nnetplan.yaml is missing from tar.", group[0].MsgName()),
			"Unable to apply custom network configuration for %s.\n\nnetplan.yaml is missing from tar.")
	}
	if err := r.backupNetplan(src); err != nil {
		r.restoreNetconf(ctx)
		return fail(1, err.Error(), "Failed to apply custom network configuration for %s")
	}
	sink, err := openSink(o, r.maxOutput())
	if err != nil {
		r.restoreNetconf(ctx)
		return fail(1, err.Error(), "Failed to apply custom network configuration for %s")
	}
	r.bringDownNetworking(ctx, sink.Stdout, sink.Stderr)
	if f := r.runInstaller(ctx, sink, nil, r.privileged("netplan", "apply", "--debug")...); f != nil {
		sink.Close()
		r.restoreNetconf(ctx)
		return fail(f.exit, "", "Failed to apply custom network configuration for %s")
	}
	r.waitForNetworkd(ctx, sink.Stdout, sink.Stderr)
	r.forgetDevices()
	if r.up != nil {
		rec, _ := r.emit("", kindSignal, Signal{Status: wire.SignalApplyingNetconf, Error: "User netplan config applied"}, nil)
		if err := r.up.waitSent(ctx, rec.Seq, r.netconfProbe()); err != nil {
			sink.Close()
			r.restoreNetconf(ctx)
			return fail(1, fmt.Sprintf("%v", err),
				"Unable to communicate to the MAAS metadata service after applying custom network configuration.")
		}
	}
	sink.Close()
	return true
}

func (r *run) netconfProbe() time.Duration {
	if r.a.NetconfProbe > 0 {
		return r.a.NetconfProbe
	}
	return DefaultNetconfProbe
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

// restoreNetconf puts the ephemeral netplan configuration back and applies it, when a backup
// exists (after a batch, after a failure, or at start-up after a crash).
func (r *run) restoreNetconf(ctx context.Context) {
	dir, backup := r.netplanDir(), r.netplanBackup()
	entries, err := os.ReadDir(backup)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	out := logWriter{r}
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
	r.bringDownNetworking(ctx, out, out)
	rc, err := r.commands().Run(ctx, r.privileged("netplan", "apply", "--debug"), nil, out, out)
	if err != nil || rc != 0 {
		r.logf("WARNING: netplan apply --debug failed (exit %d, %v) while restoring the ephemeral configuration", rc, err)
	}
	r.waitForNetworkd(ctx, out, out)
	r.forgetDevices()
	r.emit("", kindSignal, Signal{Status: wire.SignalApplyingNetconf, Error: "ephemeral netplan applied"}, nil)
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
