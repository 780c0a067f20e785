package api

import (
	"encoding/json"
	"testing"

	"maasgo/region/store"
	"maasgo/wire"
)

// TestInterfaceLinks renders an interface with an address found while commissioning as
// upstream does: on a commissioned machine, an address-less auto link and the address under
// discovered; on a deployed one, a static link with the address; the subnet named by its
// network either way.
func TestInterfaceLinks(t *testing.T) {
	ifs := []store.Interface{{ID: 7, Name: "eth0", Type: "physical", MACAddress: "02:00:00:00:00:01",
		Links: []store.Link{{Mode: "auto", Address: "192.0.2.10", Subnet: "192.0.2.10/24"}}}}
	for _, tc := range []struct {
		status            wire.NodeStatus
		links, discovered string
	}{
		{wire.NodeReady, `[{"id":700,"mode":"auto","subnet":{"cidr":"192.0.2.0/24","name":"192.0.2.0/24","vlan":` + defaultVLANJSON(t) + `}}]`,
			`[{"ip_address":"192.0.2.10","subnet":{"cidr":"192.0.2.0/24","name":"192.0.2.0/24","vlan":` + defaultVLANJSON(t) + `}}]`},
		{wire.NodeDeployed, `[{"id":700,"ip_address":"192.0.2.10","mode":"static","subnet":{"cidr":"192.0.2.0/24","name":"192.0.2.0/24","vlan":` + defaultVLANJSON(t) + `}}]`,
			`[]`},
	} {
		got := renderInterfaces(&store.Machine{SystemID: "abc", Status: tc.status}, ifs)[0]
		links, _ := json.Marshal(got.Links)
		disc, _ := json.Marshal(got.Discovered)
		if string(links) != tc.links || string(disc) != tc.discovered {
			t.Errorf("%s: links %s\ndiscovered %s\nwant links %s\ndiscovered %s", tc.status.Label(), links, disc, tc.links, tc.discovered)
		}
	}
}

func defaultVLANJSON(t *testing.T) string {
	b, err := json.Marshal(defaultVLAN)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
