// Package wire holds the types and enumerations that the agent and the region both speak:
// status numbers and names, script and hardware types, the signal and its encoding, index.json
// and the packages in it, result YAML, the architecture table, OAuth signing and verification,
// and the formats of durations and timestamps on the wire. It imports nothing from either side.
package wire

import (
	"fmt"
	"strconv"
	"strings"
)

// NodeStatus is a machine's life-cycle state (protocol.md §9).
type NodeStatus int

// Node statuses, numbered as upstream.
const (
	NodeNew                      NodeStatus = 0
	NodeCommissioning            NodeStatus = 1
	NodeFailedCommissioning      NodeStatus = 2
	NodeMissing                  NodeStatus = 3
	NodeReady                    NodeStatus = 4
	NodeReserved                 NodeStatus = 5
	NodeDeployed                 NodeStatus = 6
	NodeRetired                  NodeStatus = 7
	NodeBroken                   NodeStatus = 8
	NodeDeploying                NodeStatus = 9
	NodeAllocated                NodeStatus = 10
	NodeFailedDeployment         NodeStatus = 11
	NodeReleasing                NodeStatus = 12
	NodeFailedReleasing          NodeStatus = 13
	NodeDiskErasing              NodeStatus = 14
	NodeFailedDiskErasing        NodeStatus = 15
	NodeRescueMode               NodeStatus = 16
	NodeEnteringRescueMode       NodeStatus = 17
	NodeFailedEnteringRescueMode NodeStatus = 18
	NodeExitingRescueMode        NodeStatus = 19
	NodeFailedExitingRescueMode  NodeStatus = 20
	NodeTesting                  NodeStatus = 21
	NodeFailedTesting            NodeStatus = 22
)

var nodeStatusLabels = [...]string{
	"New", "Commissioning", "Failed commissioning", "Missing", "Ready", "Reserved", "Deployed",
	"Retired", "Broken", "Deploying", "Allocated", "Failed deployment", "Releasing",
	"Releasing failed", "Disk erasing", "Failed disk erasing", "Rescue mode", "Entering rescue mode",
	"Failed to enter rescue mode", "Exiting rescue mode", "Failed to exit rescue mode", "Testing",
	"Failed testing",
}

var nodeStatusNames = [...]string{
	"NEW", "COMMISSIONING", "FAILED_COMMISSIONING", "MISSING", "READY", "RESERVED", "DEPLOYED",
	"RETIRED", "BROKEN", "DEPLOYING", "ALLOCATED", "FAILED_DEPLOYMENT", "RELEASING",
	"FAILED_RELEASING", "DISK_ERASING", "FAILED_DISK_ERASING", "RESCUE_MODE", "ENTERING_RESCUE_MODE",
	"FAILED_ENTERING_RESCUE_MODE", "EXITING_RESCUE_MODE", "FAILED_EXITING_RESCUE_MODE", "TESTING",
	"FAILED_TESTING",
}

// Label is the human name the API shows as status_name ("Ready").
func (s NodeStatus) Label() string {
	if s < 0 || int(s) >= len(nodeStatusLabels) {
		return fmt.Sprintf("Unknown status %d", int(s))
	}
	return nodeStatusLabels[s]
}

// String is the constant's name ("READY").
func (s NodeStatus) String() string {
	if s < 0 || int(s) >= len(nodeStatusNames) {
		return strconv.Itoa(int(s))
	}
	return nodeStatusNames[s]
}

// ParseNodeStatus accepts a number, a constant name (ready, failed_testing) or a label
// (Ready, Failed testing), case-insensitively.
func ParseNodeStatus(v string) (NodeStatus, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 || n >= len(nodeStatusNames) {
			return 0, fmt.Errorf("unknown node status %d", n)
		}
		return NodeStatus(n), nil
	}
	for i := range nodeStatusNames {
		if strings.EqualFold(v, nodeStatusNames[i]) || strings.EqualFold(v, nodeStatusLabels[i]) ||
			strings.EqualFold(strings.ReplaceAll(v, "-", "_"), nodeStatusNames[i]) {
			return NodeStatus(i), nil
		}
	}
	return 0, fmt.Errorf("unknown node status %q", v)
}

// ScriptStatus is the state of one script result (protocol.md §9).
type ScriptStatus int

// Script result statuses, numbered as upstream.
const (
	ScriptPending               ScriptStatus = 0
	ScriptRunning               ScriptStatus = 1
	ScriptPassed                ScriptStatus = 2
	ScriptFailed                ScriptStatus = 3
	ScriptTimedOut              ScriptStatus = 4
	ScriptAborted               ScriptStatus = 5
	ScriptDegraded              ScriptStatus = 6
	ScriptInstalling            ScriptStatus = 7
	ScriptFailedInstalling      ScriptStatus = 8
	ScriptSkipped               ScriptStatus = 9
	ScriptApplyingNetconf       ScriptStatus = 10
	ScriptFailedApplyingNetconf ScriptStatus = 11
)

var scriptStatusLabels = [...]string{
	"Pending", "Running", "Passed", "Failed", "Timed out", "Aborted", "Degraded",
	"Installing dependencies", "Failed installing dependencies", "Skipped",
	"Applying custom network configuration", "Failed to apply custom network configuration",
}

// Label is the status_name the API shows. -1 is upstream's quirk for an empty set.
func (s ScriptStatus) Label() string {
	if s == -1 {
		return scriptStatusLabels[len(scriptStatusLabels)-1]
	}
	if s < 0 || int(s) >= len(scriptStatusLabels) {
		return fmt.Sprintf("Unknown status %d", int(s))
	}
	return scriptStatusLabels[s]
}

// Running reports whether the result is under way (RUNNING, INSTALLING, APPLYING_NETCONF).
func (s ScriptStatus) Running() bool {
	return s == ScriptRunning || s == ScriptInstalling || s == ScriptApplyingNetconf
}

// Unfinished reports whether the result is pending or under way.
func (s ScriptStatus) Unfinished() bool { return s == ScriptPending || s.Running() }

// Failed reports whether the status counts as a failure (FAILED, TIMEDOUT, FAILED_INSTALLING,
// FAILED_APPLYING_NETCONF).
func (s ScriptStatus) Failed() bool {
	return s == ScriptFailed || s == ScriptTimedOut || s == ScriptFailedInstalling || s == ScriptFailedApplyingNetconf
}

// ScriptType says when a script runs.
type ScriptType int

// Script types, numbered as upstream (1 is unused).
const (
	ScriptTypeCommissioning ScriptType = 0
	ScriptTypeTesting       ScriptType = 2
	ScriptTypeRelease       ScriptType = 3
)

// Label is the type_name the API shows ("Testing script").
func (t ScriptType) Label() string {
	switch t {
	case ScriptTypeCommissioning:
		return "Commissioning script"
	case ScriptTypeTesting:
		return "Testing script"
	case ScriptTypeRelease:
		return "Release script"
	}
	return fmt.Sprintf("Unknown script type %d", int(t))
}

// Dir is the directory of the scripts tar that holds scripts of this type.
func (t ScriptType) Dir() string {
	switch t {
	case ScriptTypeCommissioning:
		return "commissioning"
	case ScriptTypeRelease:
		return "release"
	}
	return "testing"
}

// ParseScriptType accepts test/testing, commission/commissioning, release or the digit.
func ParseScriptType(v string) (ScriptType, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "commission", "commissioning":
		return ScriptTypeCommissioning, nil
	case "2", "test", "testing":
		return ScriptTypeTesting, nil
	case "3", "release":
		return ScriptTypeRelease, nil
	}
	return 0, fmt.Errorf("unknown script type %q (want commissioning, testing or release)", v)
}

// ResultType is the kind of a script set.
type ResultType int

// Result (script set) types, numbered as upstream.
const (
	ResultCommissioning ResultType = 0
	ResultInstallation  ResultType = 1
	ResultTesting       ResultType = 2
	ResultRelease       ResultType = 3
)

// Label is the type_name of a script set ("Commissioning").
func (t ResultType) Label() string {
	switch t {
	case ResultCommissioning:
		return "Commissioning"
	case ResultInstallation:
		return "Installation"
	case ResultTesting:
		return "Testing"
	case ResultRelease:
		return "Release"
	}
	return fmt.Sprintf("Unknown result type %d", int(t))
}

// ParseResultType accepts commission(ing), install(ation), test(ing), release or the digit.
func ParseResultType(v string) (ResultType, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "commission", "commissioning":
		return ResultCommissioning, nil
	case "1", "install", "installation":
		return ResultInstallation, nil
	case "2", "test", "testing":
		return ResultTesting, nil
	case "3", "release":
		return ResultRelease, nil
	}
	return 0, fmt.Errorf("unknown result type %q (want commissioning, installation, testing or release)", v)
}

// HardwareType is what a script examines.
type HardwareType int

// Hardware types, numbered as upstream.
const (
	HardwareNode    HardwareType = 0
	HardwareCPU     HardwareType = 1
	HardwareMemory  HardwareType = 2
	HardwareStorage HardwareType = 3
	HardwareNetwork HardwareType = 4
	HardwareGPU     HardwareType = 5
)

var hardwareLabels = [...]string{"Node", "CPU", "Memory", "Storage", "Network", "GPU"}

// Label is the hardware_type_name the API shows ("Storage").
func (h HardwareType) Label() string {
	if h < 0 || int(h) >= len(hardwareLabels) {
		return fmt.Sprintf("Unknown hardware type %d", int(h))
	}
	return hardwareLabels[h]
}

// Tag is the tag every saved script gets for its hardware type ("storage").
func (h HardwareType) Tag() string { return strings.ToLower(h.Label()) }

// SortKey orders scripts as the runner does: cpu, memory, storage, network, gpu, then node.
func (h HardwareType) SortKey() int {
	if h == HardwareNode {
		return 99
	}
	return int(h)
}

// ParseHardwareType accepts upstream's names and aliases, case-insensitively, or the digit.
func ParseHardwareType(v string) (HardwareType, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "node", "machine", "controller", "other", "generic":
		return HardwareNode, nil
	case "1", "cpu", "processor":
		return HardwareCPU, nil
	case "2", "memory", "ram":
		return HardwareMemory, nil
	case "3", "storage", "disk", "ssd":
		return HardwareStorage, nil
	case "4", "network", "net", "interface":
		return HardwareNetwork, nil
	case "5", "gpu", "graphics":
		return HardwareGPU, nil
	}
	return 0, fmt.Errorf("unknown hardware type %q (want node, cpu, memory, storage, network or gpu)", v)
}

// Parallel says which scripts may run beside a script.
type Parallel int

// Parallel modes, numbered as upstream.
const (
	ParallelDisabled Parallel = 0
	ParallelInstance Parallel = 1
	ParallelAny      Parallel = 2
)

// Label is the parallel_name the API shows.
func (p Parallel) Label() string {
	switch p {
	case ParallelDisabled:
		return "Disabled"
	case ParallelInstance:
		return "Run along other instances of this script"
	case ParallelAny:
		return "Run along any other script."
	}
	return fmt.Sprintf("Unknown parallel mode %d", int(p))
}

// ParseParallel accepts disabled/none, instance/name, any/enabled or the digit.
func ParseParallel(v string) (Parallel, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "disabled", "none":
		return ParallelDisabled, nil
	case "1", "instance", "name":
		return ParallelInstance, nil
	case "2", "any", "enabled":
		return ParallelAny, nil
	}
	return 0, fmt.Errorf("unknown parallel mode %q (want disabled, instance or any)", v)
}

// Signal statuses a machine may send with op=signal (protocol.md §4.3).
const (
	SignalOK              = "OK"
	SignalFailed          = "FAILED"
	SignalWorking         = "WORKING"
	SignalCommissioning   = "COMMISSIONING"
	SignalTesting         = "TESTING"
	SignalTimedOut        = "TIMEDOUT"
	SignalInstalling      = "INSTALLING"
	SignalApplyingNetconf = "APPLYING_NETCONF"
	SignalReleasing       = "RELEASING"
)

// ValidSignalStatus reports whether s is a status the region accepts.
func ValidSignalStatus(s string) bool {
	switch s {
	case SignalOK, SignalFailed, SignalWorking, SignalCommissioning, SignalTesting, SignalTimedOut,
		SignalInstalling, SignalApplyingNetconf, SignalReleasing:
		return true
	}
	return false
}
