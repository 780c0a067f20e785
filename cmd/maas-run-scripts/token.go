package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newGetMachineTokenCmd builds "get-machine-token".
//
// Synopsis:
//
//	maas-run-scripts get-machine-token MAAS_URL API_KEY SYSTEM_ID TOKEN_FILE
//
// It fetches the token of an existing machine (GET machines/<id>/?op=get_token, with an
// administrator's key) and writes the credentials file report-results reads, with mode 0600.
// TOKEN_FILE "-" prints the file on standard output, wherever that goes (upstream writes a
// file named "<stdout>" when standard output is a regular file, protocol.md §14, pitfall 13).
func newGetMachineTokenCmd() *cobra.Command {
	var idle time.Duration
	var tls trustOpts
	cmd := &cobra.Command{
		Use:   "get-machine-token MAAS_URL API_KEY SYSTEM_ID TOKEN_FILE",
		Short: "Write the credentials file of a machine already in MAAS, for report-results",
		Long: `Fetch the token of the machine SYSTEM_ID and write the credentials file report-results
reads to TOKEN_FILE (mode 0600), or print it with "-". MAAS_URL is the region's URL
(http://host:5240/MAAS); API_KEY an administrator's key (consumer:token:secret).`,
		Args:         cobra.ExactArgs(4),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGetMachineToken(cmd, args[0], args[1], args[2], args[3], idle, &tls)
		},
	}
	addIdleFlag(cmd.Flags(), &idle, true)
	tls.addFlags(cmd.Flags())
	return cmd
}

func runGetMachineToken(cmd *cobra.Command, maasURL, apiKey, systemID, path string, idle time.Duration, tls *trustOpts) error {
	c, err := newAPIClient(maasURL, apiKey, idle, tls)
	if err != nil {
		return err
	}
	if systemID == "" {
		return fmt.Errorf("empty SYSTEM_ID")
	}
	var pf *pendingFile
	if path != "-" {
		if pf, err = prepareFile(path); err != nil {
			return err
		}
		defer pf.abort()
	}
	tok, err := c.machineToken(cmdContext(cmd), systemID)
	if err != nil {
		return fmt.Errorf("failed getting machine credentials: %w", err)
	}
	data, err := c.creds(systemID, tok).Marshal()
	if err != nil {
		return err
	}
	if pf == nil {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	return pf.commit(data)
}
