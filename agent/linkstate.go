package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"maasgo/collectors"
	"maasgo/wire"
)

// The link state of network tests (spec/hardware.md §3.2-3.4, protocol.md §6.8): every
// result tied to an interface carries the interface's real link_connected, link_speed and
// interface_speed in its result file, and a network test's interface that has no address
// (or is a port of a bond or bridge) is not tested: its result is skipped, with the reason.

// addressWait bounds the wait for an address on a connected interface once the configured
// networking is applied: a DHCP lease takes a moment.
const addressWait = 10 * time.Second

// linkSeams are the seams the runner reads link state through, and what closes them:
// Agent.Seams, the recorded answers of the machine tree (MachineRoot), or the running
// kernel's for the running machine. A tree without recorded answers has none: its sysfs
// alone is read.
func (r *run) linkSeams() (collectors.Seams, func()) {
	switch {
	case r.a.Seams != nil:
		return *r.a.Seams, func() {}
	case r.a.MachineRoot != "":
		return collectors.ReplaySeams(r.a.MachineRoot), func() {}
	case r.a.Roots == collectors.HostRoots():
		s, closeSeams, err := collectors.LiveSeams()
		if err == nil {
			return s, closeSeams
		}
		r.logf("link state: %v; reading sysfs only", err)
	}
	return collectors.Seams{}, func() {}
}

// portState reads the link state of interface name.
func (r *run) portState(name string) (collectors.PortState, error) {
	seams, done := r.linkSeams()
	defer done()
	return collectors.ReadPortState(collectors.NewFS(r.a.Roots, nil), seams, name)
}

// untestable says why the interface of network test s cannot be tested ("" when it can):
// it is a port of a bond or bridge (the aggregate is tested), or it has no IP address other
// than a link-local one, once the configured networking is applied (upstream tests
// configured interfaces only). An interface without carrier is not skipped: its test fails. A connected interface gets addressWait to get an address
// after the configured networking was applied. What cannot be read is not held against
// the interface.
func (r *run) untestable(s *Script, inv invocation) string {
	if s.HardwareType != wire.HardwareNetwork || inv.Interface == "" {
		return ""
	}
	deadline := time.Now().Add(addressWait)
	for {
		st, err := r.portState(inv.Interface)
		if err != nil {
			return ""
		}
		if st.Master != "" {
			return fmt.Sprintf("%s is a port of %s: the aggregate is tested, not its ports one by one", inv.Interface, st.Master)
		}
		if !st.AddressesKnown || len(st.Addresses) > 0 {
			return ""
		}
		// An interface without carrier is tested: the region chose it as connected, so its
		// test fails and says the link is down (a dead cable), rather than being skipped.
		connected, known := st.Connected()
		if known && !connected {
			return ""
		}
		if !s.ApplyConfiguredNetworking || r.info.Workload || time.Now().After(deadline) {
			return fmt.Sprintf("%s has no IP address (%s): only interfaces with an address are tested", inv.Interface, st.Describe())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// recordSkipped records the result of a script whose interface is not tested: exit status
// 0, "status: skipped" and the interface's link state in its result file, the reason in its
// output.
func (r *run) recordSkipped(pc *phaseCtx, s *Script, o outputFiles, inv invocation, reason string) {
	msg := "Skipped: " + reason + "\n"
	for _, f := range []struct{ path, data string }{{o.Combined, msg}, {o.Stdout, msg}, {o.Stderr, ""}, {o.Result, "status: skipped\n"}} {
		if err := writeReplacing(f.path, []byte(f.data)); err != nil {
			r.logf("%s: %v", s.Name, err)
		}
	}
	r.journalResult(pc, s, r.capture(pc, s, o, inv, procResult{}, nil))
}

// checkLinkConnected writes the link state of the interface a result is tied to into its
// result file (AddLinkState): the real link_connected (a failed test on an interface that
// is down reports link_connected: false, protocol.md §6.8, and so does a passed one),
// link_speed and interface_speed. When the interface cannot be read at all (it is gone),
// a failed test reports it disconnected, as upstream.
func (r *run) checkLinkConnected(s *Script, inv invocation, o outputFiles, exit int) {
	if inv.Interface == "" {
		return
	}
	var ls LinkState
	st, err := r.portState(inv.Interface)
	switch {
	case err != nil && exit != 0:
		disconnected := false
		ls.Connected = &disconnected
	case err != nil:
		return
	default:
		if c, known := st.Connected(); known {
			ls.Connected = &c
			if c {
				ls.LinkSpeed = st.LinkSpeed
			}
		}
		ls.InterfaceSpeed = st.InterfaceSpeed
	}
	if err := AddLinkState(o.Result, ls); err != nil {
		r.logf("%s: %v", s.Name, err)
	}
}

// LinkState is what the runner adds to a result file about the result's interface. Nil
// and zero fields are unknown and left out.
type LinkState struct {
	Connected      *bool
	LinkSpeed      uint64 // Mbit/s
	InterfaceSpeed uint64 // Mbit/s
}

// AddLinkState adds link_connected, link_speed and interface_speed to the result file at
// path (creating it), each unless the file has it already (the script's own word wins) or
// it is unknown. A file that is not a YAML mapping is left alone (the region reports it).
func AddLinkState(path string, ls LinkState) error {
	var keys [][2]string
	if ls.Connected != nil {
		keys = append(keys, [2]string{"link_connected", strconv.FormatBool(*ls.Connected)})
	}
	if ls.LinkSpeed > 0 {
		keys = append(keys, [2]string{"link_speed", strconv.FormatUint(ls.LinkSpeed, 10)})
	}
	if ls.InterfaceSpeed > 0 {
		keys = append(keys, [2]string{"interface_speed", strconv.FormatUint(ls.InterfaceSpeed, 10)})
	}
	if len(keys) == 0 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read result file: %w", err)
	}
	root, err := decodeYAMLDoc(data)
	if err != nil {
		return nil
	}
	if root == nil {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if root.Kind != yaml.MappingNode {
		return nil
	}
	added := false
	for _, kv := range keys {
		if mappingValue(root, kv[0]) != nil {
			continue
		}
		tag := "!!int"
		if kv[0] == "link_connected" {
			tag = "!!bool"
		}
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: kv[0]},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: kv[1]})
		added = true
	}
	if !added {
		return nil
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		return fmt.Errorf("write result file: %w", err)
	}
	return writeReplacing(path, out)
}
