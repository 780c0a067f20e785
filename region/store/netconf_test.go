package store_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"maasgo/region/store"
)

// TestConfiguredNetworking stores what the configured networking is rendered from (a VLAN's
// id, a bond's parents and params, links with gateways, DNS servers and routes) and reads it
// back on both engines.
func TestConfiguredNetworking(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		m := newMachine("netconf")
		vid := 100
		want := []store.Interface{
			{Name: "eth0", Type: "physical", MACAddress: "52:54:00:00:10:01", Enabled: true, MTU: 1500},
			{Name: "bond0", Type: "bond", MACAddress: "52:54:00:00:10:01", Enabled: true, MTU: 9000,
				Parents: []string{"eth0"}, Params: `{"bond_mode": "active-backup"}`,
				Links: []store.Link{{Mode: "static", Address: "10.0.0.5", Subnet: "10.0.0.0/24", Gateway: "10.0.0.1",
					DNSServers: []string{"10.0.0.2"}, Routes: []store.Route{{Destination: "10.9.0.0/16", Gateway: "10.0.0.254", Metric: 5}}}}},
			{Name: "bond0.100", Type: "vlan", Enabled: true, MTU: 9000, Parents: []string{"bond0"}, VID: &vid,
				Links: []store.Link{{Mode: "dhcp"}}},
		}
		update(t, s, func(tx *store.Tx) error {
			if err := tx.CreateMachine(m); err != nil {
				return err
			}
			for i := range want {
				want[i].NodeID = m.ID
				if err := tx.CreateInterface(&want[i]); err != nil {
					return err
				}
			}
			return nil
		})
		var got []store.Interface
		if err := s.View(context.Background(), func(tx *store.Tx) error {
			all, err := tx.Interfaces(m.ID)
			got = all[m.ID]
			return err
		}); err != nil {
			t.Fatal(err)
		}
		ignore := cmpopts.IgnoreFields(store.Interface{}, "ID", "Created", "Updated", "Tags", "Neighbours", "Parents", "Links")
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("interfaces (-want +got):\n%s", diff)
		}
		for i := range want {
			if diff := cmp.Diff(want[i].Links, got[i].Links, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s links (-want +got):\n%s", want[i].Name, diff)
			}
			if diff := cmp.Diff(want[i].Parents, got[i].Parents, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s parents (-want +got):\n%s", want[i].Name, diff)
			}
		}
	})
}
