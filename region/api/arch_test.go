package api

import (
	"testing"

	"maasgo/wire"
)

// TestAgentArchitectures: the agent is built only for architectures the region takes
// machines of, and for each the Makefile's GOARCH (and regiontest's runtime.GOARCH, which
// names the build it writes) is the Debian name the agent paths answer to.
func TestAgentArchitectures(t *testing.T) {
	for _, name := range AgentArchitectures {
		a, ok := wire.ArchByDebian(name)
		if !ok || !a.Machines || a.GOARCH != name {
			t.Errorf("agent build %q: table entry %+v (known %v); want an accepted architecture whose GOARCH is its name", name, a, ok)
		}
	}
}
