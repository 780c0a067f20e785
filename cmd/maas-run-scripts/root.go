package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"maasgo/agent"
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
// already start with a subcommand. Scripts run "$MAAS_RUN_SCRIPTS machine-resources" (or
// lldp, throughput, ...), and MAAS_RUN_SCRIPTS is the binary under the name it was started
// as (maas-run-remote-scripts in the commissioning user data).
func argsForArgv0(argv0 string, args []string) []string {
	sub, ok := multiCall[filepath.Base(argv0)]
	if !ok || (len(args) > 0 && isSubcommand(args[0])) {
		return args
	}
	return append([]string{sub}, args...)
}

// isSubcommand reports whether name is a subcommand of the root command (hidden ones, such
// as agent.ReaperCommand, included).
func isSubcommand(name string) bool {
	for _, c := range newRootCmd().Commands() {
		if c.Name() == name {
			return true
		}
	}
	return false
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
		newRegisterMachineCmd(), newGetMachineTokenCmd(), newReportResultsCmd(), newReaperCmd(), newExportCmd())
	cmd.AddCommand(newNetcheckCmd())
	cmd.AddCommand(newLLDPCmd())
	cmd.AddCommand(newThroughputCmd())
	cmd.AddCommand(newWipeDisksCmd())
	cmd.AddCommand(newBMCConfigCmd(), newMachineConfigHintsCmd())
	return cmd
}

// newReaperCmd builds the hidden watchdog command a run starts (agent.RunReaper): it kills
// the scripts' process groups when the runner dies without saying it is done.
func newReaperCmd() *cobra.Command {
	return &cobra.Command{
		Use:          agent.ReaperCommand,
		Short:        "Kill the scripts of a runner that died (started by run, resume and report-results)",
		Hidden:       true,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE:         func(*cobra.Command, []string) error { return runReaper() },
	}
}

// runReaper runs the watchdog on standard input. It ignores the signals a terminal or an
// init system sends to the runner: it ends with the runner, when standard input closes.
func runReaper() error {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	return agent.RunReaper(os.Stdin, os.Stderr)
}
