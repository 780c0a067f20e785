package main

import (
	"path/filepath"

	"github.com/spf13/cobra"
)

// multiCall maps the names the binary may be installed under to the subcommand that name
// runs. Add an entry to give the binary another name (for example
// "maas-run-remote-scripts": "run").
var multiCall = map[string]string{
	"machine-resources":       "machine-resources",
	"maas-run-remote-scripts": "run",
}

// argsForArgv0 returns the arguments for the root command: when the program was called by
// one of its multi-call names, the matching subcommand is put in front, unless the arguments
// already start with one. Scripts run "$MAAS_RUN_SCRIPTS machine-resources", and
// MAAS_RUN_SCRIPTS is the binary under the name it was started as (maas-run-remote-scripts
// in the commissioning user data).
func argsForArgv0(argv0 string, args []string) []string {
	sub, ok := multiCall[filepath.Base(argv0)]
	if !ok {
		return args
	}
	if len(args) > 0 {
		for _, s := range multiCall {
			if args[0] == s {
				return args
			}
		}
	}
	return append([]string{sub}, args...)
}

// newRootCmd builds the command tree. Each subcommand is built by its own constructor and
// keeps its flags in a local options struct.
func newRootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:          "maas-run-scripts",
		Short:        "Run MAAS commissioning and testing scripts and report their results",
		SilenceUsage: true,
	}
	cmd.AddCommand(newMachineResourcesCmd(), newRunCmd(), newResumeCmd(), newSendCmd(),
		newRegisterMachineCmd(), newGetMachineTokenCmd(), newReportResultsCmd())
	return cmd
}
