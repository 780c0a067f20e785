package lifecycle

import (
	"testing"

	"gopkg.in/yaml.v3"

	"maasgo/region/store"
)

func TestNetplan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ifaces []store.Interface
		want   map[string]string // name → MAC
	}{
		{"none", nil, nil},
		{"physical only", []store.Interface{
			{Name: "eth0", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:01", MTU: 1500},
			{Name: "eth1", Type: "physical", Enabled: false, MACAddress: "52:54:00:00:00:02", MTU: 1500},
			{Name: "bond0", Type: "bond", Enabled: true, MACAddress: "52:54:00:00:00:03", MTU: 9000},
			{Name: "eth2", Type: "physical", Enabled: true, MTU: 1500},
			{Name: "eth: 3", Type: "physical", Enabled: true, MACAddress: "52:54:00:00:00:04", MTU: 9000},
		}, map[string]string{"eth0": "52:54:00:00:00:01", "eth: 3": "52:54:00:00:00:04"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Netplan(tc.ifaces)
			if err != nil {
				t.Fatal(err)
			}
			var doc netplanDoc
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not YAML: %v\n%s", err, b)
			}
			if doc.Network.Version != 2 || len(doc.Network.Ethernets) != len(tc.want) {
				t.Fatalf("got %+v\n%s", doc, b)
			}
			for name, mac := range tc.want {
				e := doc.Network.Ethernets[name]
				if e.Match.MACAddress != mac || e.SetName != name || !e.DHCP4 || e.MTU == 0 {
					t.Errorf("%s: %+v", name, e)
				}
			}
		})
	}
}
