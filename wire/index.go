package wire

import (
	"encoding/json"
	"fmt"
)

// Index is the index.json of a maas-scripts tar (protocol.md §4.2).
type Index struct {
	V1 IndexLists `json:"1.0"`
}

// IndexLists are the scripts to run, by kind. Empty lists are left out.
type IndexLists struct {
	Commissioning []IndexEntry `json:"commissioning_scripts,omitempty"`
	Testing       []IndexEntry `json:"testing_scripts,omitempty"`
	Release       []IndexEntry `json:"release_scripts,omitempty"`
}

// IndexEntry is one script result to produce: which script, with which parameters.
type IndexEntry struct {
	Name            string `json:"name"`
	Path            string `json:"path"` // inside the tar, e.g. commissioning/maas-lshw
	ScriptResultID  *int64 `json:"script_result_id,omitempty"`
	ScriptVersionID int64  `json:"script_version_id"`
	// TimeoutSeconds is a float on the wire (300.0); 0 means no timeout.
	TimeoutSeconds            float64                  `json:"timeout_seconds"`
	Parallel                  Parallel                 `json:"parallel"`
	HardwareType              HardwareType             `json:"hardware_type"`
	Parameters                map[string]ResolvedParam `json:"parameters"`
	Packages                  json.RawMessage          `json:"packages"` // Packages, decoded by the agent
	ForHardware               []string                 `json:"for_hardware"`
	ApplyConfiguredNetworking bool                     `json:"apply_configured_networking"`
	HasStarted                *bool                    `json:"has_started,omitempty"`
	HasFinished               *bool                    `json:"has_finished,omitempty"`
	Default                   *bool                    `json:"default,omitempty"`
	Tags                      []string                 `json:"tags,omitempty"`
	BMCConfigPath             string                   `json:"bmc_config_path,omitempty"`
	// EstimatedSeconds is how long the region expects the script to take here, from earlier
	// runs (0: unknown); beyond upstream, which the runner ignores.
	EstimatedSeconds float64 `json:"estimated_runtime,omitempty"`
}

// MsgName names the script in the runner's messages: "<name> (id: N, script_version_id: V)",
// with what the entry has.
func (e *IndexEntry) MsgName() string {
	switch {
	case e.ScriptResultID == nil:
		return e.Name
	case e.ScriptVersionID != 0:
		return fmt.Sprintf("%s (id: %d, script_version_id: %d)", e.Name, *e.ScriptResultID, e.ScriptVersionID)
	}
	return fmt.Sprintf("%s (id: %d)", e.Name, *e.ScriptResultID)
}

// ScriptSignal is a signal about the entry's script: its result id, name and version.
func (e *IndexEntry) ScriptSignal(status, msg string) Signal {
	sig := Signal{Status: status, Error: msg, Name: e.Name}
	if e.ScriptResultID != nil {
		id := *e.ScriptResultID
		sig.ScriptResultID = &id
		if e.ScriptVersionID != 0 {
			v := e.ScriptVersionID
			sig.ScriptVersionID = &v
		}
	}
	return sig
}

// ResolvedParam is a parameter with the value chosen for one script result. Value is a
// scalar, or for storage and interface parameters a device (StorageValue, InterfaceValue).
type ResolvedParam struct {
	Type           string `json:"type"`
	Value          any    `json:"value"`
	ArgumentFormat string `json:"argument_format,omitempty"`
	Default        any    `json:"default,omitempty"`
	Title          string `json:"title,omitempty"`
	Description    string `json:"description,omitempty"`
	Required       *bool  `json:"required,omitempty"`
	Min            *int64 `json:"min,omitempty"`
	Max            *int64 `json:"max,omitempty"`
}

// StorageValue is the disk a storage parameter names (upstream's
// PhysicalBlockDevice.serialize).
type StorageValue struct {
	ID                    int64  `json:"id"`
	Name                  string `json:"name"`
	IDPath                string `json:"id_path"`
	Model                 string `json:"model"`
	Serial                string `json:"serial"`
	PhysicalBlockDeviceID int64  `json:"physical_blockdevice_id,omitempty"`
}

// InterfaceValue is the interface an interface parameter names.
type InterfaceValue struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	MACAddress string `json:"mac_address"`
	Vendor     string `json:"vendor"`
	Product    string `json:"product"`
}

// Storage reads the value as a disk. ok is false when the value is not a device (e.g. the
// placeholder "all" before any disk is known).
func (p ResolvedParam) Storage() (v StorageValue, ok bool, err error) {
	ok, err = p.decodeDevice(&v)
	return v, ok, err
}

// Interface reads the value as an interface; ok as for Storage.
func (p ResolvedParam) Interface() (v InterfaceValue, ok bool, err error) {
	ok, err = p.decodeDevice(&v)
	return v, ok, err
}

func (p ResolvedParam) decodeDevice(dst any) (bool, error) {
	switch p.Value.(type) {
	case map[string]any, StorageValue, *StorageValue, InterfaceValue, *InterfaceValue:
	default:
		return false, nil
	}
	b, err := json.Marshal(p.Value)
	if err != nil {
		return false, fmt.Errorf("encode %s parameter value: %w", p.Type, err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return false, fmt.Errorf("decode %s parameter value: %w", p.Type, err)
	}
	return true, nil
}
