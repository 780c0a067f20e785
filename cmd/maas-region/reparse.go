package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"maasgo/region/reparse"
	"maasgo/region/store"
)

func newReparseCmd(o *dbOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "reparse [SYSTEM_ID...]",
		Short: "Derive machines' inventories again from the hardware snapshots of their last commissioning, with this region's parser",
		Long: `Derive each machine's inventory again from the raw hardware snapshot its last commissioning
sent, with this version's collectors, and apply it when it differs: a parser fix reaches the
fleet without recommissioning. The differences are recorded as the machine's hardware_changes
with cause "parser" and in an event. Without SYSTEM_IDs every machine is re-parsed. The region
may keep serving meanwhile (also: POST machines/{system_id}/?op=reparse).`,
		RunE: o.storeCmd(func(cmd *cobra.Command, st *store.Store) error {
			ids := cmd.Flags().Args()
			if len(ids) == 0 {
				err := st.View(cmd.Context(), func(tx *store.Tx) error {
					ms, err := tx.Machines(store.MachineFilter{})
					for _, m := range ms {
						ids = append(ids, m.SystemID)
					}
					return err
				})
				if err != nil {
					return err
				}
			}
			p := &reparse.Reparser{Store: st}
			out := cmd.OutOrStdout()
			var failed []error
			applied := 0
			for _, id := range ids {
				rep, err := p.Machine(cmd.Context(), id)
				switch {
				case errors.Is(err, store.ErrNotFound):
					failed = append(failed, fmt.Errorf("%s: no such machine", id))
					fmt.Fprintf(out, "%s: no such machine\n", id)
				case err != nil:
					failed = append(failed, err)
					fmt.Fprintf(out, "%s: %v\n", id, err)
				case rep.Note != "":
					fmt.Fprintf(out, "%s: not re-parsed: %s\n", id, rep.Note)
				case !rep.Applied:
					fmt.Fprintf(out, "%s: unchanged\n", id)
				default:
					applied++
					fmt.Fprintf(out, "%s: %d differences applied\n", id, len(rep.Changes))
					for _, c := range rep.Changes {
						fmt.Fprintf(out, "  %s\n", c)
					}
				}
			}
			fmt.Fprintf(out, "%d machines re-parsed, %d changed\n", len(ids)-len(failed), applied)
			return errors.Join(failed...)
		}),
	}
}
