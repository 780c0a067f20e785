package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"maasgo/region/api"
	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/region/userdata"
)

func newUserDataCmd(o *dbOpts) *cobra.Command {
	var url, agentDir, caFile string
	cmd := &cobra.Command{
		Use:   "user-data SYSTEM_ID",
		Short: "Print the user data of a machine's current status, for machines booted by other means",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ca string
			if caFile != "" {
				b, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("read --tls-ca: %w", err)
				}
				if ca, err = userdata.CanonicalCA(string(b)); err != nil {
					return fmt.Errorf("--tls-ca %s: %w", caFile, err)
				}
			}
			st, err := o.open(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			var out []byte
			err = st.View(cmd.Context(), func(tx *store.Tx) error {
				m, err := tx.MachineBySystemID(args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no machine with system id %s", args[0])
				}
				if err != nil {
					return err
				}
				tok, err := tx.NodeToken(m.ID)
				if err != nil {
					return err
				}
				if url == "" {
					if url, err = config.String(tx, "maas_url"); err != nil {
						return err
					}
					if url == "" {
						return errors.New("the region's URL is not known (maas-region serve records it when it starts): give --url")
					}
				}
				sums, err := api.AgentSums(agentDir)
				if err != nil {
					return err
				}
				data, ok, err := userdata.For(userdata.Input{Machine: m, Token: tok, URL: url, Agent: userdata.Agent{Sums: sums, CA: ca}})
				if err != nil {
					return err
				}
				if !ok {
					if len(m.UserData) == 0 {
						return fmt.Errorf("machine %s is %s: it has no user data (commission, test or deploy it first)", m.SystemID, m.Status.Label())
					}
					data = m.UserData
				}
				out = data
				return nil
			})
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the region's URL as the machine reaches it (default: the URL maas-region serve runs at, its maas_url setting)")
	cmd.Flags().StringVar(&agentDir, "agent-dir", defaultAgentDir(), "directory holding the agent binaries maas-run-scripts-linux-<arch>")
	cmd.Flags().StringVar(&caFile, "tls-ca", "", "put the PEM authorities in `FILE` in the user data, to check the region's TLS certificate with (as serve --tls-ca)")
	return cmd
}
