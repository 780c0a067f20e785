package main

import (
	"fmt"
	"os"
	"testing"

	"maasgo/agent"
)

// TestMain lets the test binary act as the watchdog: the agent commands run in-process start
// os.Executable() (this binary) with agent.ReaperCommand. With agentMainEnv set it is the
// agent.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == agent.ReaperCommand {
		if err := runReaper(); err != nil {
			fmt.Fprintln(os.Stderr, "watchdog:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(agentMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// agentMainEnv makes the test binary the agent itself (main), for tests that run scripts
// calling "$MAAS_RUN_SCRIPTS <subcommand>".
const agentMainEnv = "MAAS_RUN_SCRIPTS_TEST_MAIN"
