package main

import (
	"fmt"
	"os"
	"testing"

	"maasgo/agent"
)

// TestMain lets the test binary act as the watchdog: the agent commands run in-process start
// os.Executable() (this binary) with agent.ReaperCommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == agent.ReaperCommand {
		if err := runReaper(); err != nil {
			fmt.Fprintln(os.Stderr, "watchdog:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
