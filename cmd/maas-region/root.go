package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"maasgo/region/store"
)

// dbOpts are the flags every command that opens the database shares.
type dbOpts struct {
	database  string
	stateDir  string
	logLevel  string
	logFormat string
}

func newRootCmd() *cobra.Command {
	var o dbOpts
	root := &cobra.Command{
		Use:           "maas-region",
		Short:         "The MAAS region: API, metadata server and machine life-cycle",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := root.PersistentFlags()
	f.StringVar(&o.database, "database", os.Getenv("MAAS_REGION_DATABASE"),
		"database URL: postgres://user:pass@host/db, or sqlite://PATH (default: SQLite under --state-dir; env MAAS_REGION_DATABASE)")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "directory for the SQLite database and other state (env MAAS_REGION_STATE_DIR)")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text (key=value) or json (one object a line)")
	root.AddCommand(newServeCmd(&o), newCreateAdminCmd(&o), newAPIKeyCmd(&o), newMigrateCmd(&o), newUserDataCmd(&o),
		newVerifyBundleCmd(), newReparseCmd(&o))
	return root
}

func defaultStateDir() string {
	if d := os.Getenv("MAAS_REGION_STATE_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/lib/maas-region"
	}
	if d, err := os.UserHomeDir(); err == nil {
		return filepath.Join(d, ".local", "state", "maas-region")
	}
	return "maas-region-state"
}

func (o *dbOpts) open(ctx context.Context) (*store.Store, error) {
	st, err := store.Open(ctx, o.database, o.stateDir)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// storeCmd is a command's RunE that opens the database, runs fn with it and closes it.
func (o *dbOpts) storeCmd(fn func(cmd *cobra.Command, st *store.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		st, err := o.open(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		return fn(cmd, st)
	}
}

func (o *dbOpts) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(o.logLevel))); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(o.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q: want text or json", o.logFormat)
}
