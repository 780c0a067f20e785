package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentDependencies keeps the region, the database, the built-in scripts (the agent
// downloads its scripts; what it shares with the region is in wire) and ghw's top-level
// package (which links every subsystem) out of the agent.
func TestAgentDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "maasgo/region"), dep == "maasgo/scripts", strings.HasPrefix(dep, "modernc.org/sqlite"),
			strings.HasPrefix(dep, "github.com/jackc/pgx"), dep == "github.com/jaypipes/ghw":
			t.Errorf("the agent links %s", dep)
		}
	}
}
