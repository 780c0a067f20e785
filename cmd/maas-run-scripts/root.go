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
// one of its multi-call names, the matching subcommand is put in front.
func argsForArgv0(argv0 string, args []string) []string {
	if sub, ok := multiCall[filepath.Base(argv0)]; ok {
		return append([]string{sub}, args...)
	}
	return args
}

// newRootCmd builds the command tree. Each subcommand is built by its own constructor and
// keeps its flags in a local options struct.
func newRootCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:          "maas-run-scripts",
		Short:        "Run MAAS commissioning and testing scripts and report their results",
		SilenceUsage: true,
	}
	cmd.AddCommand(newMachineResourcesCmd(), newRunCmd(), newResumeCmd(), newSendCmd())
	return cmd
}
