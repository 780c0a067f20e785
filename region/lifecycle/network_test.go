package lifecycle_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/region/inventory"
	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// netCheck is a network test with an interface parameter, as the built-in connectivity
// tests are.
const netCheck = `#!/bin/sh
# --- Start MAAS 1.0 script metadata ---
# name: net-check
# script_type: testing
# hardware_type: network
# parallel: instance
# parameters:
#   interface: {type: interface}
# --- End MAAS 1.0 script metadata ---
exit 0
`

// netFacts is an inventory with a fast link, a slow one and a bridge over two ports.
func netFacts() *inventory.Facts {
	phys := func(name, mac string, link, speed uint64) inventory.Interface {
		return inventory.Interface{Name: name, Type: "physical", MACAddress: mac, Parents: []string{}, Enabled: true,
			LinkConnected: true, LinkSpeed: link, InterfaceSpeed: speed, MTU: 1500}
	}
	return &inventory.Facts{Architecture: "amd64/generic", CPUCount: 2, Memory: 2048, HardwareInfo: map[string]string{},
		Interfaces: []inventory.Interface{
			phys("eth0", "02:00:00:00:0a:00", 1000, 1000),
			phys("eth1", "02:00:00:00:0a:01", 100, 1000),
			phys("eth2", "02:00:00:00:0a:02", 10000, 10000),
			phys("eth3", "02:00:00:00:0a:03", 10000, 10000),
			{Name: "br0", Type: "bridge", MACAddress: "02:00:00:00:0a:02", Parents: []string{"eth2", "eth3"}, Enabled: true,
				LinkConnected: true, MTU: 1500, Links: []string{"192.0.2.10/24"}},
		}}
}

// netMachine makes a machine in status from (Ready or Deployed) with netFacts' interfaces,
// testing net-check on them.
func netMachine(t *testing.T, st *store.Store, host, macByte string, from wire.NodeStatus) (*store.Machine, *store.User) {
	t.Helper()
	var m *store.Machine
	admin := &store.User{Username: "admin-" + host, IsAdmin: true}
	update(t, st, func(tx *store.Tx) (err error) {
		if err := tx.CreateUser(admin); err != nil {
			return err
		}
		m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: host, Architecture: "amd64", Deployed: true,
			MACs: []string{"02:00:00:00:" + macByte + ":00"}}, admin)
		if err != nil {
			return err
		}
		if from == wire.NodeReady {
			if err := lifecycle.Release(tx, m, admin, ""); err != nil {
				return err
			}
		}
		f := netFacts()
		for k := range f.Interfaces { // MAC addresses of this machine's own
			f.Interfaces[k].MACAddress = strings.Replace(f.Interfaces[k].MACAddress, "0a", macByte, 1)
		}
		if err := lifecycle.ApplyInventory(tx, m, f); err != nil {
			return err
		}
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		if _, err := tx.ScriptByName("net-check"); errors.Is(err, store.ErrNotFound) {
			if _, err := library.Create(tx, library.Request{Body: []byte(netCheck)}); err != nil {
				return err
			}
		}
		return lifecycle.StartTesting(tx, m, []string{"net-check"}, nil, false, admin)
	})
	return m, admin
}

// signal sends sig as the machine, reading the machine afresh.
func signal(t *testing.T, st *store.Store, m *store.Machine, sig wire.Signal) *store.Machine {
	t.Helper()
	var out *store.Machine
	update(t, st, func(tx *store.Tx) error {
		fresh, err := tx.MachineByID(m.ID)
		if err != nil {
			return err
		}
		if err := (&lifecycle.Signals{}).Process(tx, fresh, sig); err != nil {
			return err
		}
		out = fresh
		return nil
	})
	return out
}

// finished is the signal of a script that ended with exit status rc and wrote these files
// (by suffix: "" combined, ".out", ".yaml").
func finished(name string, id *int64, rc int, files map[string]string) wire.Signal {
	sig := wire.Signal{Status: wire.SignalWorking, ScriptResultID: id, ExitStatus: &rc, Name: name}
	for suffix, data := range files {
		sig.Files = append(sig.Files, wire.SignalFile{Name: name + suffix, Data: []byte(data)})
	}
	return sig
}

func events(t *testing.T, st *store.Store, m *store.Machine, typ string) []string {
	t.Helper()
	var out []string
	st.View(context.Background(), func(tx *store.Tx) error {
		evs, err := tx.Events(store.EventFilter{NodeIDs: []int64{m.ID}})
		for _, e := range evs {
			if e.Type == typ {
				out = append(out, e.Level+" "+e.Description)
			}
		}
		return err
	})
	return out
}

func interfacesByName(t *testing.T, st *store.Store, m *store.Machine) map[string]store.Interface {
	t.Helper()
	out := map[string]store.Interface{}
	st.View(context.Background(), func(tx *store.Tx) error {
		all, err := tx.Interfaces(m.ID)
		for _, i := range all[m.ID] {
			out[i.Name] = i
		}
		return err
	})
	return out
}

// TestNetworkTestResults runs a network test on every interface of a deployed machine: the
// test runs on the interfaces at the top of their stacks, the link state and speeds the
// results report are stored on the interfaces and the results, a slow link and a lost one
// are events, and the failed machine is overridden back to Deployed with its results kept.
func TestNetworkTestResults(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			m, admin := netMachine(t, st, "net-d1", "d1", wire.NodeDeployed)
			if got := events(t, st, m, "Slow link"); len(got) != 1 || !strings.HasPrefix(got[0], "WARNING eth1: Link connected to slow interface: the link runs at 100 Mbit/s, the interface can go at 1 Gbit/s.") {
				t.Errorf("slow-link events after commissioning: %q", got)
			}
			ifs := interfacesByName(t, st, m)
			byIface := map[string]store.ScriptResult{}
			st.View(context.Background(), func(tx *store.Tx) error {
				rs, err := tx.ScriptResults([]int64{*m.CurrentTestingSet}, false)
				for _, r := range rs {
					for name, i := range ifs {
						if r.InterfaceID != nil && *r.InterfaceID == i.ID {
							byIface[name] = r
						}
					}
				}
				return err
			})
			var tested []string
			for name := range byIface {
				tested = append(tested, name)
			}
			slices.Sort(tested)
			if !slices.Equal(tested, []string{"br0", "eth0", "eth1"}) {
				t.Fatalf("net-check runs on %v; want the bridge, not its ports, and the free NICs", tested)
			}

			res := func(name string) *int64 { r := byIface[name]; return &r.ID }
			m = signal(t, st, m, finished("net-check", res("eth0"), 0, map[string]string{"": "ok\n",
				".yaml": "link_connected: true\nlink_speed: 1000\ninterface_speed: 1000\n"}))
			m = signal(t, st, m, finished("net-check", res("eth1"), 0, map[string]string{"": "ok\n",
				".yaml": "link_speed: 100\ninterface_speed: 10000\n"}))
			m = signal(t, st, m, finished("net-check", res("br0"), 1, map[string]string{"": "eth3: no carrier\n",
				".yaml": "link_connected: false\n"}))
			ifs = interfacesByName(t, st, m)
			for name, want := range map[string][3]int64{"eth0": {1, 1000, 1000}, "eth1": {1, 100, 10000}, "br0": {0, 0, 0}} {
				i := ifs[name]
				if got := [3]int64{map[bool]int64{true: 1}[i.LinkConnected], i.LinkSpeed, i.InterfaceSpeed}; got != want {
					t.Errorf("%s: connected, link speed, interface speed = %v; want %v", name, got, want)
				}
			}
			if w := lifecycle.InterfaceWarning(ptr(ifs["eth1"])); !strings.Contains(w, "100 Mbit/s") || !strings.Contains(w, "10 Gbit/s") {
				t.Errorf("eth1 warning %q", w)
			}
			if got := events(t, st, m, "Slow link"); len(got) != 2 || !strings.Contains(got[0], "10 Gbit/s") || !strings.Contains(got[0], "found by net-check") {
				t.Errorf("slow-link events after the test: %q", got)
			}
			if got := events(t, st, m, "Link disconnected"); len(got) != 1 || !strings.HasPrefix(got[0], "WARNING br0: net-check found no link") {
				t.Errorf("link-lost events: %q", got)
			}
			st.View(context.Background(), func(tx *store.Tx) error {
				for name, want := range map[string]*store.LinkReport{"eth0": {Connected: true, Speed: 1000, InterfaceSpeed: 1000},
					"eth1": {Connected: true, Speed: 100, InterfaceSpeed: 10000}, "br0": {}} {
					r, err := tx.ScriptResultByID(byIface[name].ID, false)
					if err != nil {
						return err
					}
					if r.Link == nil || *r.Link != *want {
						t.Errorf("%s result's link: %+v; want %+v", name, r.Link, want)
					}
				}
				return nil
			})

			m = signal(t, st, m, wire.Signal{Status: wire.SignalOK})
			if m.Status != wire.NodeFailedTesting || m.PreviousStatus != wire.NodeDeployed {
				t.Fatalf("after the tests: %s (previous %s); want Failed testing (previous Deployed)", m.Status.Label(), m.PreviousStatus.Label())
			}
			// Tested again, failing again: the machine still goes back to Deployed.
			update(t, st, func(tx *store.Tx) error {
				return lifecycle.StartTesting(tx, m, []string{"net-check"}, nil, false, admin)
			})
			m = signal(t, st, m, wire.Signal{Status: wire.SignalFailed, Error: "net-check failed"})
			if m.Status != wire.NodeFailedTesting || m.PreviousStatus != wire.NodeDeployed {
				t.Fatalf("after the second run: %s (previous %s); want Failed testing (previous Deployed)", m.Status.Label(), m.PreviousStatus.Label())
			}
			update(t, st, func(tx *store.Tx) error {
				return lifecycle.OverrideFailedTesting(tx, m, admin, "the bridge's second port is spare")
			})
			if m.Status != wire.NodeDeployed || m.OwnerID == nil || m.ErrorDescription != "" {
				t.Errorf("overridden: %s, owner %v, error %q; want Deployed, still owned", m.Status.Label(), m.OwnerID, m.ErrorDescription)
			}
			if got := events(t, st, m, "Overrode failed testing"); len(got) != 1 || !strings.Contains(got[0], "admin-net-d1") || !strings.Contains(got[0], "second port is spare") {
				t.Errorf("override events: %q", got)
			}
			st.View(context.Background(), func(tx *store.Tx) error {
				r, err := tx.ScriptResultByID(byIface["br0"].ID, false)
				if err == nil && (r.Status != wire.ScriptFailed || r.Suppressed) {
					t.Errorf("the failed result after the override: %s, suppressed %v", r.Status.Label(), r.Suppressed)
				}
				return err
			})
			update(t, st, func(tx *store.Tx) error {
				err := lifecycle.OverrideFailedTesting(tx, m, admin, "")
				var se *lifecycle.StateError
				if !errors.As(err, &se) || !strings.Contains(se.Msg, "Deployed") {
					t.Errorf("override of a deployed machine: %v; want a state error", err)
				}
				return nil
			})
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestOverrideFailedTestingToReady: a Ready machine whose tests failed goes back to Ready,
// with nobody owning it, even after being tested a second time.
func TestOverrideFailedTestingToReady(t *testing.T) {
	st := open(t, storetest.SQLite(t))
	m, admin := netMachine(t, st, "net-r1", "e1", wire.NodeReady)
	m = signal(t, st, m, wire.Signal{Status: wire.SignalFailed, Error: "tests failed"})
	update(t, st, func(tx *store.Tx) error {
		// Testing again after a failure keeps where the machine came from.
		return lifecycle.StartTesting(tx, m, []string{"net-check"}, nil, false, admin)
	})
	m = signal(t, st, m, wire.Signal{Status: wire.SignalFailed, Error: "tests failed again"})
	if m.Status != wire.NodeFailedTesting || m.ErrorDescription == "" {
		t.Fatalf("after the tests: %s (error %q)", m.Status.Label(), m.ErrorDescription)
	}
	update(t, st, func(tx *store.Tx) error { return lifecycle.OverrideFailedTesting(tx, m, admin, "") })
	if m.Status != wire.NodeReady || m.OwnerID != nil || m.ErrorDescription != "" {
		t.Errorf("overridden: %s, owner %v, error %q; want Ready, unowned", m.Status.Label(), m.OwnerID, m.ErrorDescription)
	}
}

func TestSlowLinkWarning(t *testing.T) {
	for _, tc := range []struct {
		connected   bool
		link, iface int64
		want        string
	}{
		{true, 1000, 1000, ""},
		{true, 1000, 0, ""},
		{true, 0, 10000, ""},
		{false, 0, 10000, ""},
		{true, 10000, 1000, ""},
		{true, 100, 1000, "the link runs at 100 Mbit/s, the interface can go at 1 Gbit/s."},
		{true, 1000, 2500, "the link runs at 1 Gbit/s, the interface can go at 2.5 Gbit/s."},
		{true, 10, 1234, "the link runs at 10 Mbit/s, the interface can go at 1234 Mbit/s."},
	} {
		got := lifecycle.SlowLinkWarning(tc.connected, tc.link, tc.iface)
		if (tc.want == "") != (got == "") || !strings.HasSuffix(got, tc.want) {
			t.Errorf("SlowLinkWarning(%v, %d, %d) = %q; want …%q", tc.connected, tc.link, tc.iface, got, tc.want)
		}
	}
}

// TestNeighbours: a passed maas-lldp-neighbours result gives the interfaces their neighbours,
// whether it arrives before or after the inventory that names the interfaces; an output the
// region cannot read fails the result.
func TestNeighbours(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			var m *store.Machine
			update(t, st, func(tx *store.Tx) (err error) {
				admin := &store.User{Username: "admin", IsAdmin: true}
				if err := tx.CreateUser(admin); err != nil {
					return err
				}
				m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "lldp", Architecture: "amd64",
					MACs: []string{"3c:fd:fe:00:00:01"}}, admin)
				if err != nil {
					return err
				}
				return lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{TestingScripts: []string{"none"}}, admin)
			})
			// Before the inventory the machine's one interface is eth0; the agent saw ens1f0.
			doc := `{"interfaces": {"ens1f0": [{"chassis_id": "52:54:00:aa:bb:cc", "chassis_id_type": "mac", "port_id": "Gi1/0/7",
				"port_description": "rack 4 uplink", "system_name": "sw1", "vlan": 100, "ttl": 120}], "ens1f1": [], "lo0": []}}`
			m = signal(t, st, m, finished(lifecycle.NeighboursScript, nil, 0, map[string]string{".out": doc, "": doc}))
			if ifs := interfacesByName(t, st, m); len(ifs["eth0"].Neighbours) != 0 {
				t.Errorf("eth0 got ens1f0's neighbours: %+v", ifs["eth0"].Neighbours)
			}
			resources, err := os.ReadFile("../../testdata/machines/two-socket-server/machine-resources.json")
			if err != nil {
				t.Fatal(err)
			}
			m = signal(t, st, m, finished(lifecycle.InventoryScript, nil, 0, map[string]string{".out": string(resources)}))
			ifs := interfacesByName(t, st, m)
			want := []wire.Neighbour{{ChassisID: "52:54:00:aa:bb:cc", ChassisIDType: "mac", PortID: "Gi1/0/7",
				PortDescription: "rack 4 uplink", SystemName: "sw1", VLAN: 100, TTL: 120}}
			if diff := cmp.Diff(want, ifs["ens1f0"].Neighbours); diff != "" {
				t.Errorf("ens1f0 neighbours after the inventory (-want +got):\n%s", diff)
			}
			if got := ifs["ens1f1"].Neighbours; len(got) != 0 {
				t.Errorf("ens1f1 neighbours: %+v", got)
			}
			if got := events(t, st, m, "Neighbours"); len(got) != 1 || got[0] != "INFO LLDP neighbours heard on 0 of 3 interfaces" {
				t.Errorf("neighbours events: %q", got)
			}

			// A second run hears nothing on ens1f0: its neighbour goes.
			m = signal(t, st, m, finished(lifecycle.NeighboursScript, nil, 0, map[string]string{".out": `{"interfaces": {"ens1f0": []}}`}))
			if got := interfacesByName(t, st, m)["ens1f0"].Neighbours; len(got) != 0 {
				t.Errorf("ens1f0 neighbours after a run that heard none: %+v", got)
			}
			m = signal(t, st, m, finished(lifecycle.NeighboursScript, nil, 0, map[string]string{".out": `{"interfaces": {"a/b": []}}`}))
			if got := events(t, st, m, "Script result error"); len(got) != 1 || !strings.Contains(got[0], "the neighbours cannot be used") {
				t.Errorf("bad neighbours: %q", got)
			}
			st.View(context.Background(), func(tx *store.Tx) error {
				rs, err := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
				for _, r := range rs {
					if r.ScriptName == lifecycle.NeighboursScript && r.Status != wire.ScriptFailed {
						t.Errorf("the unreadable neighbours result is %s", r.Status.Label())
					}
				}
				return err
			})
		})
	}
}
