// Command maas-run-scripts is the agent that runs MAAS commissioning and testing scripts on
// a machine and reports their results. It is one binary with several names: called as
// machine-resources it prints the machine's hardware inventory.
package main

import "os"

func main() {
	cmd := newRootCmd()
	cmd.SetArgs(argsForArgv0(os.Args[0], os.Args[1:]))
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}
