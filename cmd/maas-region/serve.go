package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"maasgo/agent/throughput"
	"maasgo/region/api"
	"maasgo/region/config"
	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/metrics"
	"maasgo/region/netlimit"
	"maasgo/region/store"
)

type serveOpts struct {
	listen          string
	maxBody         int64
	maxForm         int64
	maxConns        int
	maxConnsPerAddr int
	idleTimeout     time.Duration
	shutdownTimeout time.Duration
	maxDownloads    int
	createAdmin     string
	url             string
	monitorInterval time.Duration
	scriptGrace     time.Duration
	agentDir        string
	throughput      string
	debugListen     string
	tls             tlsOpts
}

func newServeCmd(o *dbOpts) *cobra.Command {
	var so serveOpts
	cmd := &cobra.Command{
		Use:   "serve [--listen :5240] [--database URL] [--state-dir DIR]",
		Short: "Run the region: API 2.0 and metadata under /MAAS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, o, so)
		},
	}
	f := cmd.Flags()
	f.StringVar(&so.listen, "listen", ":5240", "address to listen on")
	f.Int64Var(&so.maxBody, "max-body", 128<<20, "largest request body accepted, in bytes")
	f.Int64Var(&so.maxForm, "max-form", 8<<20, "largest form (urlencoded body, or multipart fields besides files) accepted, in bytes")
	f.IntVar(&so.maxConns, "max-connections", 4096, "connections open at once, in total (bounded by the open-file limit)")
	f.IntVar(&so.maxConnsPerAddr, "max-connections-per-address", 512, "connections open at once from one client address")
	f.DurationVar(&so.idleTimeout, "idle-timeout", api.DefaultIdleTimeout, "how long a request body read or a response write may make no progress")
	f.IntVar(&so.maxDownloads, "max-downloads", runtime.NumCPU(), "result downloads assembled at once; more wait up to 5 s, then get a 503")
	f.DurationVar(&so.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a shutdown waits for requests under way before closing their connections")
	f.StringVar(&so.createAdmin, "create-admin", "", "create this administrator if missing and print an API key")
	f.StringVar(&so.url, "url", "", "the URL machines and clients reach the region at (default: http://<listen address>/MAAS)")
	f.StringVar(&so.agentDir, "agent-dir", defaultAgentDir(), "directory holding the agent binaries maas-run-scripts-linux-<arch> that machines download")
	f.DurationVar(&so.monitorInterval, "monitor-interval", time.Minute, "how often the status monitor looks for silent machines and overdue scripts")
	f.StringVar(&so.throughput, "throughput-listen", "", "also answer the network-throughput test on this address (e.g. :5249), one measurement at a time; off when empty")
	f.StringVar(&so.debugListen, "debug-listen", "", "also serve the Go profiler (net/http/pprof, /debug/pprof/) on this loopback address, e.g. 127.0.0.1:6060; off when empty")
	so.tls.addFlags(f)
	f.DurationVar(&so.scriptGrace, "script-timeout-grace", lifecycle.ScriptTimeoutGrace, "how long past its timeout a running script may go before the region marks it timed out")
	return cmd
}

func serve(cmd *cobra.Command, o *dbOpts, so serveOpts) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	tlsSt, err := loadTLS(so.tls)
	if err != nil {
		return err
	}
	var debug net.Listener
	if so.debugListen != "" {
		if debug, err = debugListener(so.debugListen); err != nil {
			return err
		}
		defer debug.Close()
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var added, upgraded int
	err = st.Update(ctx, func(tx *store.Tx) (err error) {
		added, upgraded, err = library.RegisterBuiltins(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("register built-in scripts: %w", err)
	}
	log.Info("built-in scripts registered", "added", added, "upgraded", upgraded)
	ln, err := net.Listen("tcp", so.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", so.listen, err)
	}
	url := so.url
	if url == "" {
		url = tlsSt.scheme() + "://" + advertised(ln.Addr()) + "/MAAS"
	}
	// maas_url is where the region serves: user-data renders it when not told otherwise.
	if err := st.Update(ctx, func(tx *store.Tx) error { return config.Set(tx, "maas_url", url) }); err != nil {
		ln.Close()
		return fmt.Errorf("record the region's URL %s: %w", url, err)
	}
	if so.createAdmin != "" {
		key, err := adminKey(ctx, st, so.createAdmin)
		if err != nil {
			ln.Close()
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "MAAS region at %s\nadmin user: %s\nAPI key:    %s\n", url, so.createAdmin, key)
		fmt.Fprintf(cmd.OutOrStdout(), "log in with: maas login %s %s %s\n", so.createAdmin, url, key)
	}
	var tput net.Listener
	if so.throughput != "" {
		if tput, err = net.Listen("tcp", so.throughput); err != nil {
			ln.Close()
			return fmt.Errorf("listen for throughput tests on %s: %w", so.throughput, err)
		}
	}
	reg := metrics.New(st)
	handler := api.New(st, api.Options{Log: log, Metrics: reg, MaxBody: so.maxBody, MaxForm: so.maxForm, Version: version,
		AgentDir: so.agentDir, IdleTimeout: so.idleTimeout, MaxHeavyDownloads: so.maxDownloads, UI: webUI(st, log),
		MachineCA: tlsSt.machineCA})
	srv := &http.Server{
		Handler: handler,
		// Headers must arrive within 30 s and hold at most 64 KiB; an idle keep-alive
		// connection closes after 2 minutes. Bodies and responses are bounded per read and
		// write by the handler (--idle-timeout, and the whole body by --max-body at 1 Mbit/s).
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	limited := netlimit.Wrap(ln, netlimit.Limits{Total: connLimit(so.maxConns), PerAddress: so.maxConnsPerAddr,
		Refused: refusedLogger(log)})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			log.Info("SIGHUP: reloading the agent builds")
			handler.ReloadAgents()
			tlsSt.reload(log)
		}
	}()
	go housekeeping(ctx, st, log)
	go monitor(ctx, st, log, reg, so.monitorInterval, so.scriptGrace)
	if tput != nil {
		// The region is the network-throughput test's default peer (the script's --region-url).
		go func() {
			srv := &throughput.Server{Log: log.With("service", "throughput")}
			if err := srv.Serve(ctx, tput); err != nil {
				log.Error("throughput server stopped", "err", err)
			}
		}()
		log.Info("answering throughput tests", "listen", tput.Addr().String())
	}
	if debug != nil {
		go func() {
			if err := http.Serve(debug, debugHandler()); err != nil && ctx.Err() == nil {
				log.Error("profiler stopped", "err", err)
			}
		}()
		log.Info("serving the profiler", "listen", debug.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- tlsSt.serve(srv, limited, log, url) }()
	log.Info("region serving", "listen", ln.Addr().String(), "url", url, "database", st.Engine())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), so.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still under way past the deadline lose their connections.
		log.Warn("requests still under way at the shutdown deadline; closing their connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// debugListener listens on addr for the profiler, which must not be reachable from other
// hosts: the host must be a loopback address or localhost, and what was bound is checked too.
func debugListener(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--debug-listen %q: the profiler serves only on a loopback address (127.0.0.1:PORT, [::1]:PORT or localhost:PORT), not on %q", addr, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the profiler on %s: %w", addr, err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("--debug-listen %q: bound %s, which is not a loopback address", addr, ln.Addr())
	}
	return ln, nil
}

// debugHandler serves net/http/pprof under /debug/pprof/.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// connLimit keeps the connection bound under the process's open-file limit, leaving room
// for the database and the agent builds.
func connLimit(want int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur > 256 && uint64(want) > rl.Cur-128 {
		return int(rl.Cur - 128)
	}
	return want
}

// refusedLogger logs refused connections, at most once a second.
func refusedLogger(log *slog.Logger) func(net.Addr, string) {
	var mu sync.Mutex
	var last time.Time
	var n int
	return func(a net.Addr, why string) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if time.Since(last) >= time.Second {
			log.Warn("connections refused: too many open", "bound", why, "last_from", a.String(), "refused", n)
			last, n = time.Now(), 0
		}
	}
}

// adminKey returns an API key of the named administrator, creating the user when missing.
func adminKey(ctx context.Context, st *store.Store, username string) (string, error) {
	key, err := createAdmin(ctx, st, username, "")
	if !errors.Is(err, errUserExists) {
		return key, err
	}
	err = st.View(ctx, func(tx *store.Tx) error {
		u, err := tx.UserByName(username)
		if err != nil {
			return err
		}
		if !u.IsAdmin {
			return fmt.Errorf("user %s exists but is not an administrator", username)
		}
		toks, err := tx.UserTokens(u.ID)
		if err != nil {
			return err
		}
		if len(toks) == 0 {
			return fmt.Errorf("administrator %s has no API key: run maas-region apikey --username %s --generate", username, username)
		}
		key = toks[0].APIKey()
		return nil
	})
	return key, err
}

// advertised turns a listen address into one a client can reach: a wildcard host becomes
// the machine's hostname.
func advertised(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = hostname()
	}
	return net.JoinHostPort(host, port)
}

// monitor runs the status monitor every interval in one region process at a time: the one
// holding the "status-monitor" lease.
func monitor(ctx context.Context, st *store.Store, log *slog.Logger, reg *metrics.Region, interval, grace time.Duration) {
	holder := fmt.Sprintf("%s:%d:%s", hostname(), os.Getpid(), store.RandomString(6, "abcdefghijklmnopqrstuvwxyz0123456789"))
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			st.Update(context.Background(), func(tx *store.Tx) error { return tx.ReleaseLease("status-monitor", holder) })
			return
		case <-t.C:
		}
		var failed []string
		ran := false
		err := st.Update(ctx, func(tx *store.Tx) error {
			now := time.Now()
			ok, err := tx.AcquireLease("status-monitor", holder, now, 3*interval)
			if err != nil || !ok {
				return err
			}
			ran = true
			failed, err = lifecycle.CheckTimeouts(tx, now, grace)
			return err
		})
		if err == nil && ran {
			reg.MonitorRun(len(failed))
		}
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("status monitor", "err", err)
		case len(failed) > 0:
			log.Info("status monitor failed silent machines", "system_ids", failed)
		}
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "localhost"
	}
	return h
}

// housekeeping prunes expired nonces and old signal keys while the region runs.
func housekeeping(ctx context.Context, st *store.Store, log interface{ Warn(string, ...any) }) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := st.Update(ctx, func(tx *store.Tx) error {
			if _, err := tx.PruneNonces(time.Now().Add(-2 * 300 * time.Second)); err != nil {
				return err
			}
			// Agents retry a signal for as long as it takes; a key is kept for 90 days.
			return tx.PruneSignalKeys(time.Now().Add(-90 * 24 * time.Hour))
		})
		if err != nil && ctx.Err() == nil {
			log.Warn("prune nonces", "err", err)
		}
	}
}

// defaultAgentDir is where make build puts the agent: beside the region's own binary.
func defaultAgentDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}
