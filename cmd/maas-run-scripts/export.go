package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"maasgo/agent"
)

// newExportCmd builds "export".
//
// Synopsis:
//
//	maas-run-scripts export [--run ID] [--output FILE] [STORAGE_DIR]
//
// It writes an evidence bundle of a run from its journal, offline: after a --no-send run the
// results can be handed over without a region. The bundle is unsigned and says so; the
// region's export (nodes/{system_id}/results/?op=export) is the signed one.
func newExportCmd() *cobra.Command {
	var run, output string
	cmd := &cobra.Command{
		Use:          "export [--run ID] [--output FILE] [STORAGE_DIR]",
		Short:        "Write an evidence bundle (tar.xz) of a run's results from its journal, offline and unsigned",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			storage, err := storageDir(args)
			if err != nil {
				return err
			}
			if output == "" {
				id := run
				if id == "" {
					if id, err = agent.CurrentRun(storage); err != nil {
						return err
					}
				}
				output = filepath.Join(storage, "evidence-"+id+".tar.xz")
			}
			f, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			m, err := agent.Export(storage, run, f)
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("export: write %s: %w", output, cerr)
			}
			if err != nil {
				os.Remove(output)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s: %d results, %d files, unsigned (check it with maas-region verify-bundle)\n",
				output, len(m.Results), len(m.Files))
			return nil
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "the run to export (default: the latest)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "where to write the bundle (default: STORAGE_DIR/evidence-RUN.tar.xz)")
	return cmd
}
