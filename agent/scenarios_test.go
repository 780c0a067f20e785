package agent_test

import (
	"testing"

	"maasgo/agent/agenttest"
)

// TestScenarios runs the region-independent scenarios against the in-process region.
func TestScenarios(t *testing.T) {
	agenttest.Scenarios(t, func(t *testing.T) agenttest.Region { return agenttest.NewFake(t) })
}
