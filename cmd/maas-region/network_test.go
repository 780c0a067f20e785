package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// slowResources is the two-socket server's inventory with ens1f1's link at 10 Gbit/s on a
// 25 Gbit/s port.
func slowResources(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/machines/two-socket-server/machine-resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range doc["resources"].(map[string]any)["network"].(map[string]any)["cards"].([]any) {
		ports, _ := c.(map[string]any)["ports"].([]any)
		for _, p := range ports {
			if p := p.(map[string]any); p["id"] == "ens1f1" {
				p["link_speed"], found = 10000, true
			}
		}
	}
	if !found {
		t.Fatal("no port ens1f1 in the fixture")
	}
	b, _ = json.Marshal(doc)
	return string(b)
}

// byName indexes a list of JSON objects by their "name".
func byName(list any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, x := range list.([]any) {
		o := x.(map[string]any)
		out[fmt.Sprint(o["name"])] = o
	}
	return out
}

// TestNetworkTesting plays a machine that commissions and then runs a network test on each
// interface, against the real region: commissioning alone stores every interface's link
// state and speeds, warns of the slow link and gives the interfaces their LLDP neighbours; the test results' link_connected, link_speed
// and interface_speed reach the interfaces and the results; results are read per interface;
// the machine has an overall network test status; override_failed_testing puts the failed
// machine back to Ready without suppressing anything, and suppressing the failure then
// clears the network status.
func TestNetworkTesting(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			admin := r.Client()
			mustScript(t, admin, "net-check", "testing", "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# hardware_type: network\n"+
				"# parallel: instance\n# parameters:\n#   interface: {type: interface}\n# --- End MAAS 1.0 script metadata ---\nexit 0\n", nil)
			id, mc, idx := commissioned(t, r, "netbox", url.Values{"testing_scripts": {"net-check"}})
			resources := slowResources(t)
			neighbours := `{"interfaces": {"ens1f0": [{"chassis_id": "52:54:00:aa:bb:cc", "chassis_id_type": "mac",
				"port_id": "Gi1/0/7", "port_description": "rack 4 uplink", "system_name": "sw1", "vlan": 100, "ttl": 120}],
				"ens1f1": []}}`
			mc.runList(idx.V1.Commissioning, func(e wire.IndexEntry) (output, int) {
				switch e.Name {
				case "50-maas-01-commissioning":
					return output{combined: resources, stdout: resources}, 0
				case "maas-lldp-neighbours":
					return output{combined: neighbours, stdout: neighbours}, 0
				}
				return output{combined: "ok\n", stdout: "ok\n"}, 0
			})

			// Commissioning alone: link state and speeds as the inventory found them.
			ifs := byName(admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/interfaces/", nil))
			for name, want := range map[string]string{
				"ens1f0":      "true 25000 25000 <nil>",
				"ens1f1":      "true 10000 25000 Link connected to slow interface: the link runs at 10 Gbit/s, the interface can go at 25 Gbit/s.",
				"enp175s0np0": "false 0 400000 <nil>",
				"bond0":       "true 0 0 <nil>",
			} {
				i := ifs[name]
				if got := fmt.Sprint(i["link_connected"], " ", i["link_speed"], " ", i["interface_speed"], " ", i["link_speed_warning"]); got != want {
					t.Errorf("%s after commissioning: %s; want %s", name, got, want)
				}
			}
			for name, want := range map[string]string{"ens1f0": "sw1 Gi1/0/7 rack 4 uplink 100", "ens1f1": "", "bond0": ""} {
				var got []string
				for _, nb := range ifs[name]["neighbours"].([]any) {
					nb := nb.(map[string]any)
					got = append(got, fmt.Sprint(nb["system_name"], " ", nb["port_id"], " ", nb["port_description"], " ", nb["vlan"]))
				}
				if strings.Join(got, "; ") != want {
					t.Errorf("%s neighbours: %v; want %q", name, ifs[name]["neighbours"], want)
				}
			}
			machineEvents := func(typ string) []string {
				evs := admin.Must(t, 200, "GET", "api/2.0/events/", url.Values{"op": {"query"}, "id": {id}}).(map[string]any)
				var out []string
				for _, ev := range evs["events"].([]any) {
					if ev := ev.(map[string]any); ev["type"] == typ {
						out = append(out, fmt.Sprint(ev["level"], " ", ev["description"]))
					}
				}
				return out
			}
			if got := machineEvents("Slow link"); len(got) != 1 || !strings.HasPrefix(got[0], "WARNING ens1f1: Link connected to slow interface") {
				t.Errorf("slow-link events after commissioning: %q", got)
			}

			// The tests run on the interfaces at the top of their stacks, one result each.
			idx, _ = mc.scriptsTar()
			tested := map[string]wire.IndexEntry{}
			for _, e := range idx.V1.Testing {
				v, ok, err := e.Parameters["interface"].Interface()
				if err != nil || !ok {
					t.Fatalf("%s interface parameter: %+v %v", e.Name, e.Parameters["interface"], err)
				}
				tested[v.Name] = e
			}
			var names []string
			for n := range tested {
				names = append(names, n)
			}
			sort.Strings(names)
			if want := []string{"bond0.100", "enp175s0np0", "ens1f0v0", "ens1f0v1"}; !slices.Equal(names, want) {
				t.Fatalf("net-check runs on %v; want %v (not the bond's members, nor the bond under its VLAN)", names, want)
			}
			mc.mustSignal([]part{{"status", "TESTING"}}, nil)
			results := map[string]string{
				"bond0.100":   "link_connected: true\nlink_speed: 10000\ninterface_speed: 25000\n",
				"enp175s0np0": "link_connected: false\n",
				"ens1f0v0":    "status: skipped\n",
				"ens1f0v1":    "status: skipped\n",
			}
			for _, n := range names {
				rc := 0
				if n == "enp175s0np0" {
					rc = 1
				}
				e := tested[n]
				if resp := finish(mc, e, "WORKING", rc, []part{{e.Name, "tested " + n + "\n"}, {e.Name + ".yaml", results[n]}}); resp.Status != 200 {
					t.Fatalf("%s: %d %s", n, resp.Status, resp.Body)
				}
			}
			mc.mustSignal([]part{{"status", "OK"}, {"error", "All scripts ran"}}, nil)

			m := machineStatus(t, admin, id)
			if m["status_name"] != "Failed testing" || m["network_test_status"] != 3.0 || m["network_test_status_name"] != "Failed" || m["testing_status"] != 3.0 {
				t.Errorf("after the tests: %v, network %v %v, testing %v", m["status_name"], m["network_test_status"], m["network_test_status_name"], m["testing_status"])
			}
			ifs = byName(admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/interfaces/", nil))
			if i := ifs["bond0.100"]; i["link_speed"] != 10000.0 || i["interface_speed"] != 25000.0 || !strings.Contains(fmt.Sprint(i["link_speed_warning"]), "10 Gbit/s") {
				t.Errorf("bond0.100 after its test: %v %v %v", i["link_speed"], i["interface_speed"], i["link_speed_warning"])
			}
			if got := machineEvents("Slow link"); len(got) != 2 || !strings.Contains(got[0], "bond0.100") || !strings.Contains(got[0], "found by net-check") {
				t.Errorf("slow-link events after the tests: %q", got)
			}

			// Per interface: the one that failed, with the link it found.
			one := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/current-testing/", url.Values{"interface": {"enp175s0np0"}}).(map[string]any)
			rs := one["results"].([]any)
			if len(rs) != 1 {
				t.Fatalf("results of enp175s0np0: %v", rs)
			}
			res := rs[0].(map[string]any)
			iface, _ := res["interface"].(map[string]any)
			if res["status_name"] != "Failed" || iface["name"] != "enp175s0np0" || iface["mac_address"] != "b8:3f:d2:00:00:10" ||
				res["link_connected"] != false || res["link_speed"] != 0.0 || res["link_speed_warning"] != nil {
				t.Errorf("enp175s0np0's result: %v", res)
			}
			slow := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/", url.Values{"type": {"testing"}, "hardware_type": {"network"},
				"interface": {fmt.Sprint(ifs["bond0.100"]["id"])}}).([]any)
			if rs := slow[0].(map[string]any)["results"].([]any); len(rs) != 1 || !strings.Contains(fmt.Sprint(rs[0].(map[string]any)["link_speed_warning"]), "Link connected to slow interface") {
				t.Errorf("bond0.100's result by interface id: %v", rs)
			}

			// Override: Ready, the failed result kept as it was.
			if resp := admin.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"override_failed_testing"}, "comment": {"port 0 is spare"}}); resp.Status != 200 {
				t.Fatalf("override_failed_testing: %d %s", resp.Status, resp.Body)
			}
			m = machineStatus(t, admin, id)
			if m["status_name"] != "Ready" || m["owner"] != nil || m["network_test_status"] != 3.0 {
				t.Errorf("after the override: %v owner %v network %v", m["status_name"], m["owner"], m["network_test_status"])
			}
			if got := machineEvents("Overrode failed testing"); len(got) != 1 || !strings.Contains(got[0], "port 0 is spare") {
				t.Errorf("override events: %q", got)
			}
			if resp := admin.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"override_failed_testing"}}); resp.Status != 409 {
				t.Errorf("override of a Ready machine: %d %s", resp.Status, resp.Body)
			}
			// Suppressing the failed interface's result clears the network status.
			admin.Must(t, 200, "PUT", "api/2.0/nodes/"+id+"/results/current-testing/", url.Values{"suppressed": {"true"}, "interface": {"b8:3f:d2:00:00:10"}})
			if m = machineStatus(t, admin, id); m["network_test_status_name"] != "Passed" {
				t.Errorf("network status with the failure suppressed: %v", m["network_test_status_name"])
			}
		})
	}
}
