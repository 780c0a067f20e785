package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// builtins are the names profiles may not take.
var builtins = []string{"login", "logout", "list", "refresh", "help", "completion"}

// NewRoot returns the maas command: the built-in commands and one command per stored
// profile.
func NewRoot(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "maas [PROFILE RESOURCE ACTION [ARGS] [key=value ...]]",
		Short: "Command-line client for the MAAS region API",
		Long: `maas talks to a MAAS region's API 2.0.

Log in once with "maas login PROFILE URL API_KEY"; then
"maas PROFILE RESOURCE ACTION [ARGS] [key=value ...]" calls the API,
with the resources and actions the region describes. "maas PROFILE --help"
lists them.`,
		Version:       env.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command or profile %q (log in with: maas login %s URL API_KEY)", args[0], args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(env.Stderr, cmd.UsageString())
			return usageErrorf("missing command")
		},
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if !cmd.HasParent() {
			// Every message starts with "maas: " already.
			return usageErrorf("%w (see maas --help)", err)
		}
		return usageErrorf("%s: %w (see %s --help)", cmd.CommandPath(), err, cmd.CommandPath())
	})
	root.AddCommand(newLoginCmd(env), newLogoutCmd(env), newListCmd(env), newRefreshCmd(env))
	addProfileCmds(root, env)
	return root
}

// reserved reports whether a profile name would hide a built-in command.
func reserved(name string) bool {
	for _, b := range builtins {
		if strings.EqualFold(name, b) {
			return true
		}
	}
	return false
}

// completeProfiles completes profile names.
func completeProfiles(env *Env) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		st, err := env.store()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names, _ := st.Names()
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
