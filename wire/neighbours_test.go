package wire

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeNeighbours(t *testing.T) {
	long := strings.Repeat("x", MaxNeighbourText+1)
	tests := []struct {
		name    string
		in      string
		want    *Neighbours
		wantErr string
	}{
		{name: "one neighbour and an empty interface",
			in: `{"interfaces": {"eth0": [{"chassis_id": "52:54:00:12:34:56", "chassis_id_type": "mac", "port_id": "Gi1/0/7",
				"port_id_type": "interface_name", "port_description": "uplink", "system_name": "sw1", "system_description": "switch",
				"vlan": 100, "ttl": 120, "management_addresses": ["192.0.2.1"], "future": true}], "eth1": [], "eth2": null}}`,
			want: &Neighbours{Interfaces: map[string][]Neighbour{
				"eth0": {{ChassisID: "52:54:00:12:34:56", ChassisIDType: "mac", PortID: "Gi1/0/7", PortIDType: "interface_name",
					PortDescription: "uplink", SystemName: "sw1", SystemDesc: "switch", VLAN: 100, TTL: 120,
					ManagementAddresses: []string{"192.0.2.1"}}},
				"eth1": {}, "eth2": {},
			}}},
		{name: "no interfaces", in: `{"interfaces": {}}`, want: &Neighbours{Interfaces: map[string][]Neighbour{}}},
		{name: "interfaces missing", in: `{}`, wantErr: "interfaces: missing"},
		{name: "not an object", in: `[]`, wantErr: "cannot unmarshal"},
		{name: "trailing data", in: `{"interfaces": {}} {}`, wantErr: "data after the document"},
		{name: "bad interface name", in: `{"interfaces": {"a/b": []}}`, wantErr: `"a/b" is not an interface name`},
		{name: "long interface name", in: `{"interfaces": {"abcdefghijklmnop": []}}`, wantErr: "is not an interface name"},
		{name: "no chassis", in: `{"interfaces": {"eth0": [{"port_id": "p", "ttl": 1}]}}`, wantErr: "interfaces.eth0[0].chassis_id: missing"},
		{name: "no port", in: `{"interfaces": {"eth0": [{"chassis_id": "c", "ttl": 1}]}}`, wantErr: "port_id: missing"},
		{name: "vlan out of range", in: `{"interfaces": {"eth0": [{"chassis_id": "c", "port_id": "p", "vlan": 4095}]}}`, wantErr: "vlan: 4095"},
		{name: "negative ttl", in: `{"interfaces": {"eth0": [{"chassis_id": "c", "port_id": "p", "ttl": -1}]}}`, wantErr: "ttl: -1"},
		{name: "text too long", in: `{"interfaces": {"eth0": [{"chassis_id": "c", "port_id": "p", "system_name": "` + long + `"}]}}`, wantErr: "system_name: 513 bytes"},
		{name: "empty management address", in: `{"interfaces": {"eth0": [{"chassis_id": "c", "port_id": "p", "management_addresses": [""]}]}}`, wantErr: "management_addresses[0]: empty"},
		{name: "too large", in: `{"interfaces": {}}` + strings.Repeat(" ", MaxNeighboursSize), wantErr: "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeNeighbours([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeNeighbours: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeNeighbours: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeNeighbours (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNeighboursTooMany(t *testing.T) {
	n := Neighbours{Interfaces: map[string][]Neighbour{"eth0": make([]Neighbour, MaxNeighboursPerInterface+1)}}
	for i := range n.Interfaces["eth0"] {
		n.Interfaces["eth0"][i] = Neighbour{ChassisID: "c", PortID: "p"}
	}
	data, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeNeighbours(data); err == nil || !strings.Contains(err.Error(), "neighbours, more than") {
		t.Errorf("DecodeNeighbours of %d neighbours: %v, want an error", MaxNeighboursPerInterface+1, err)
	}
}

// FuzzDecodeNeighbours checks that what DecodeNeighbours accepts is within its bounds and
// encodes back to a document it reads the same.
func FuzzDecodeNeighbours(f *testing.F) {
	for _, s := range []string{
		`{"interfaces": {"eth0": [{"chassis_id": "52:54:00:12:34:56", "port_id": "Gi1/0/7", "vlan": 100, "ttl": 120}], "eth1": []}}`,
		`{"interfaces": {"eth0": [{"chassis_id": "c", "port_id": "p", "management_addresses": ["::1", "192.0.2.1"]}]}}`,
		`{"interfaces": {}}`, `{"interfaces": null}`, `{"interfaces": {"eth0": null}}`, `{"interfaces": {"..": []}}`,
		`{"interfaces": {"eth0": [{"chassis_id": "\ud800", "port_id": "p", "vlan": 1e3}]}}`, `null`, `{} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := DecodeNeighbours(data)
		if err != nil {
			return
		}
		if err := n.Validate(); err != nil {
			t.Fatalf("accepted a document that does not validate: %v", err)
		}
		for name, list := range n.Interfaces {
			if list == nil {
				t.Fatalf("interface %q has a nil list", name)
			}
		}
		again, err := json.Marshal(n)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		m, err := DecodeNeighbours(again)
		if err != nil {
			t.Fatalf("decode of the re-encoded document %s: %v", again, err)
		}
		if diff := cmp.Diff(n, m); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
