package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"maasgo/wire"
)

// Interface is a network interface of a machine.
type Interface struct {
	ID              int64
	NodeID          int64
	Name            string
	Type            string // physical, bond, bridge, vlan
	MACAddress      string
	Enabled         bool
	Vendor          string
	Product         string
	FirmwareVersion string
	LinkConnected   bool
	InterfaceSpeed  int64 // Mbit/s
	LinkSpeed       int64 // Mbit/s
	NUMANode        int
	SRIOVMaxVF      int
	MTU             int
	Params          string
	Tags            []string
	Parents         []string // names of parent interfaces
	VID             *int     // a VLAN interface's VLAN id
	Links           []Link
	Neighbours      []wire.Neighbour // what the last passed maas-lldp-neighbours run heard
	Created         time.Time
	Updated         time.Time
}

// Link is an address configured or discovered on an interface.
type Link struct {
	Mode    string `json:"mode"` // auto, dhcp, static, link_up
	Address string `json:"ip_address,omitempty"`
	Subnet  string `json:"subnet,omitempty"` // CIDR
	// Gateway, DNSServers and Routes are the subnet's: its gateway, its DNS servers and the
	// static routes whose source it is (upstream's Subnet.gateway_ip, dns_servers and
	// StaticRoute).
	Gateway    string   `json:"gateway_ip,omitempty"`
	DNSServers []string `json:"dns_servers,omitempty"`
	Routes     []Route  `json:"routes,omitempty"`
}

// Route is a static route from a link's subnet to a destination through a gateway.
type Route struct {
	Destination string `json:"destination"` // CIDR
	Gateway     string `json:"gateway_ip"`
	Metric      int    `json:"metric"`
}

var interfaceColumns = []string{"node_id", "name", "type", "mac_address", "enabled", "vendor", "product",
	"firmware_version", "link_connected", "interface_speed", "link_speed", "numa_node", "sriov_max_vf", "mtu",
	"params", "tags", "parents", "links", "neighbours", "vid", "created", "updated"}

func (i *Interface) values() []any {
	tags, _ := json.Marshal(orEmptyList(i.Tags))
	parents, _ := json.Marshal(orEmptyList(i.Parents))
	links := i.Links
	if links == nil {
		links = []Link{}
	}
	lj, _ := json.Marshal(links)
	nb := i.Neighbours
	if nb == nil {
		nb = []wire.Neighbour{}
	}
	nj, _ := json.Marshal(nb)
	var vid *int64
	if i.VID != nil {
		v := int64(*i.VID)
		vid = &v
	}
	return []any{i.NodeID, i.Name, i.Type, i.MACAddress, i.Enabled, nullString(i.Vendor), nullString(i.Product),
		nullString(i.FirmwareVersion), i.LinkConnected, i.InterfaceSpeed, i.LinkSpeed, i.NUMANode, i.SRIOVMaxVF, i.MTU,
		i.Params, string(tags), string(parents), string(lj), string(nj), nullInt(vid), micros(i.Created), micros(i.Updated)}
}

func scanInterface(sc scanner) (*Interface, error) {
	var i Interface
	var vendor, product, fw sql.NullString
	var tags, parents, links, neighbours string
	var created, updated int64
	var vid sql.NullInt64
	err := sc.Scan(&i.ID, &i.NodeID, &i.Name, &i.Type, &i.MACAddress, &i.Enabled, &vendor, &product, &fw,
		&i.LinkConnected, &i.InterfaceSpeed, &i.LinkSpeed, &i.NUMANode, &i.SRIOVMaxVF, &i.MTU, &i.Params,
		&tags, &parents, &links, &neighbours, &vid, &created, &updated)
	if err != nil {
		return nil, err
	}
	i.Vendor, i.Product, i.FirmwareVersion = vendor.String, product.String, fw.String
	if vid.Valid {
		v := int(vid.Int64)
		i.VID = &v
	}
	i.Created, i.Updated = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(tags), &i.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of interface %d: %w", i.ID, err)
	}
	if err := json.Unmarshal([]byte(parents), &i.Parents); err != nil {
		return nil, fmt.Errorf("decode parents of interface %d: %w", i.ID, err)
	}
	if err := json.Unmarshal([]byte(links), &i.Links); err != nil {
		return nil, fmt.Errorf("decode links of interface %d: %w", i.ID, err)
	}
	if err := json.Unmarshal([]byte(neighbours), &i.Neighbours); err != nil {
		return nil, fmt.Errorf("decode neighbours of interface %d: %w", i.ID, err)
	}
	return &i, nil
}

const interfaceSelect = `SELECT id, node_id, name, type, mac_address, enabled, vendor, product, firmware_version,
	link_connected, interface_speed, link_speed, numa_node, sriov_max_vf, mtu, params, tags, parents, links, neighbours,
	vid, created, updated FROM interfaces`

// CreateInterface stores i and sets its ID; ErrConflict when the name is taken on the machine
// or the MAC address is another physical interface's.
func (t *Tx) CreateInterface(i *Interface) error {
	now := time.Now()
	i.Created, i.Updated = now, now
	if i.Type == "" {
		i.Type = "physical"
	}
	if i.MTU == 0 {
		i.MTU = 1500
	}
	id, err := t.insertRow("interfaces", interfaceColumns, i.values())
	if err != nil {
		return fmt.Errorf("create interface %s: %w", i.Name, err)
	}
	i.ID = id
	return nil
}

// UpdateInterface writes every field of i.
func (t *Tx) UpdateInterface(i *Interface) error {
	i.Updated = time.Now()
	if err := t.updateRow("interfaces", i.ID, interfaceColumns, i.values()); err != nil {
		return fmt.Errorf("update interface %d: %w", i.ID, err)
	}
	return nil
}

// DeleteInterface removes an interface.
func (t *Tx) DeleteInterface(id int64) error {
	if _, err := t.exec(`DELETE FROM interfaces WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete interface %d: %w", id, err)
	}
	return nil
}

// InterfaceByID finds one interface of a machine.
func (t *Tx) InterfaceByID(nodeID, id int64) (*Interface, error) {
	i, err := scanInterface(t.queryRow(interfaceSelect+` WHERE node_id = ? AND id = ?`, nodeID, id))
	return i, notFound(err, fmt.Sprintf("interface %d", id))
}

// InterfaceByMAC finds the physical interface with a MAC address on any machine.
func (t *Tx) InterfaceByMAC(mac string) (*Interface, error) {
	i, err := scanInterface(t.queryRow(interfaceSelect+` WHERE type = 'physical' AND mac_address = ?`, strings.ToLower(mac)))
	return i, notFound(err, fmt.Sprintf("interface with MAC %s", mac))
}

// Interfaces lists the interfaces of the given machines, keyed by machine id, each list ordered
// by id.
func (t *Tx) Interfaces(nodeIDs ...int64) (map[int64][]Interface, error) {
	out := map[int64][]Interface{}
	err := t.inChunks("interfaces", interfaceSelect+` WHERE node_id IN (…) ORDER BY node_id, id`, nodeIDs, func(rows *sql.Rows) error {
		i, err := scanInterface(rows)
		if err == nil {
			out[i.NodeID] = append(out[i.NodeID], *i)
		}
		return err
	})
	return out, err
}
