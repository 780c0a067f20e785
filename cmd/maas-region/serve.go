package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"maasgo/region/api"
	"maasgo/region/store"
)

type serveOpts struct {
	listen      string
	maxBody     int64
	createAdmin string
	url         string
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
	f.Int64Var(&so.maxBody, "max-body", 64<<20, "largest request body accepted, in bytes")
	f.StringVar(&so.createAdmin, "create-admin", "", "create this administrator if missing and print an API key")
	f.StringVar(&so.url, "url", "", "the URL machines and clients reach the region at (default: http://<listen address>/MAAS)")
	return cmd
}

func serve(cmd *cobra.Command, o *dbOpts, so serveOpts) error {
	log, err := o.logger()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	st, err := o.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", so.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", so.listen, err)
	}
	url := so.url
	if url == "" {
		url = "http://" + advertised(ln.Addr()) + "/MAAS"
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
	srv := &http.Server{
		Handler:           api.New(st, api.Options{Log: log, MaxBody: so.maxBody, Version: version}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	go housekeeping(ctx, st, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("region serving", "listen", ln.Addr().String(), "url", url, "database", st.Engine())
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	return net.JoinHostPort(host, port)
}

// housekeeping prunes expired nonces while the region runs.
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
			_, err := tx.PruneNonces(time.Now().Add(-2 * 300 * time.Second))
			return err
		})
		if err != nil && ctx.Err() == nil {
			log.Warn("prune nonces", "err", err)
		}
	}
}
