package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAgentDependencies keeps the region, the database and ghw's top-level package (which
// links every subsystem) out of the agent.
func TestAgentDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "maasgo/region"), strings.HasPrefix(dep, "modernc.org/sqlite"),
			strings.HasPrefix(dep, "github.com/jackc/pgx"), dep == "github.com/jaypipes/ghw":
			t.Errorf("the agent links %s", dep)
		}
	}
}
