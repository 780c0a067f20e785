package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"maasgo/wire"
)

// Machine is a node the region manages.
type Machine struct {
	ID               int64
	SystemID         string
	Hostname         string
	Domain           string
	Description      string
	Architecture     string
	PowerType        string
	PowerParameters  map[string]any
	PowerState       string
	Status           wire.NodeStatus
	PreviousStatus   wire.NodeStatus
	ErrorDescription string
	StatusMessage    string
	OwnerID          *int64
	Owner            string // the owner's username, read with the machine
	Locked           bool
	Netboot          bool
	OSystem          string
	DistroSeries     string
	HWEKernel        string
	MinHWEKernel     string
	InstallKVM       bool
	UserData         []byte
	CPUCount         int
	CPUSpeed         int
	Memory           int64 // MiB
	HardwareUUID     string
	HardwareInfo     map[string]string
	Tags             []string
	SwapSize         *int64
	BiosBootMethod   string
	EnableSSH        bool
	SkipNetworking   bool
	SkipStorage      bool
	Enlisting        bool
	NUMANodes        []NUMANode

	CurrentCommissioningSet *int64
	CurrentTestingSet       *int64
	CurrentInstallationSet  *int64
	CurrentReleaseSet       *int64
	BootInterfaceID         *int64

	// HardwareChanges is what changed in the hardware between the machine's last two
	// commissionings, as JSON (lifecycle's HardwareChanges); empty before the second.
	HardwareChanges []byte

	EnableHWSync bool
	LastSync     *time.Time
	SyncInterval int
	Created      time.Time
	Updated      time.Time
}

var machineColumns = []string{
	"system_id", "hostname", "domain", "description", "architecture", "power_type", "power_parameters",
	"power_state", "status", "previous_status", "error_description", "status_message", "owner_id", "locked",
	"netboot", "osystem", "distro_series", "hwe_kernel", "min_hwe_kernel", "install_kvm", "user_data",
	"cpu_count", "cpu_speed", "memory", "hardware_uuid", "hardware_info", "tags", "swap_size",
	"bios_boot_method", "enable_ssh", "skip_networking", "skip_storage", "enlisting",
	"current_commissioning_set", "current_testing_set", "current_installation_set", "current_release_set",
	"boot_interface_id", "enable_hw_sync", "last_sync", "sync_interval", "created", "updated",
	"numa_nodes", "hardware_changes",
}

// NUMANode is one NUMA node of a machine: its CPU threads, memory and hugepages.
type NUMANode struct {
	Index     int         `json:"index"`
	Cores     []int64     `json:"cores"`
	Memory    int64       `json:"memory"` // MiB
	Hugepages []Hugepages `json:"hugepages_set"`
}

// Hugepages are a NUMA node's huge pages of one size, in bytes.
type Hugepages struct {
	PageSize int64 `json:"page_size"`
	Total    int64 `json:"total"`
}

func (m *Machine) values() ([]any, error) {
	pp, err := json.Marshal(orEmptyMap(m.PowerParameters))
	if err != nil {
		return nil, fmt.Errorf("encode power parameters: %w", err)
	}
	hi, _ := json.Marshal(orEmptyStrMap(m.HardwareInfo))
	tags, _ := json.Marshal(orEmptyList(m.Tags))
	numa := m.NUMANodes
	if numa == nil {
		numa = []NUMANode{}
	}
	nj, _ := json.Marshal(numa)
	return []any{
		m.SystemID, m.Hostname, m.Domain, m.Description, m.Architecture, m.PowerType, string(pp),
		m.PowerState, int(m.Status), int(m.PreviousStatus), m.ErrorDescription, m.StatusMessage, nullInt(m.OwnerID), m.Locked,
		m.Netboot, m.OSystem, m.DistroSeries, m.HWEKernel, m.MinHWEKernel, m.InstallKVM, m.UserData,
		m.CPUCount, m.CPUSpeed, m.Memory, nullString(m.HardwareUUID), string(hi), string(tags), nullInt(m.SwapSize),
		m.BiosBootMethod, m.EnableSSH, m.SkipNetworking, m.SkipStorage, m.Enlisting,
		nullInt(m.CurrentCommissioningSet), nullInt(m.CurrentTestingSet), nullInt(m.CurrentInstallationSet), nullInt(m.CurrentReleaseSet),
		nullInt(m.BootInterfaceID), m.EnableHWSync, nullMicros(m.LastSync), m.SyncInterval,
		micros(m.Created), micros(m.Updated), string(nj), string(m.HardwareChanges),
	}, nil
}

const machineSelect = `SELECT m.id, m.system_id, m.hostname, m.domain, m.description, m.architecture, m.power_type,
	m.power_parameters, m.power_state, m.status, m.previous_status, m.error_description, m.status_message, m.owner_id,
	COALESCE(u.username, ''), m.locked, m.netboot, m.osystem, m.distro_series, m.hwe_kernel, m.min_hwe_kernel,
	m.install_kvm, m.user_data, m.cpu_count, m.cpu_speed, m.memory, m.hardware_uuid, m.hardware_info, m.tags,
	m.swap_size, m.bios_boot_method, m.enable_ssh, m.skip_networking, m.skip_storage, m.enlisting,
	m.current_commissioning_set, m.current_testing_set, m.current_installation_set, m.current_release_set,
	m.boot_interface_id, m.enable_hw_sync, m.last_sync, m.sync_interval, m.created, m.updated,
	m.numa_nodes, m.hardware_changes FROM machines m LEFT JOIN users u ON u.id = m.owner_id`

func scanMachine(sc scanner) (*Machine, error) {
	var m Machine
	var pp, hi, tags, numa, changes string
	var status, prev int
	var owner, swap, ccs, cts, cis, crs, boot, lastSync sql.NullInt64
	var uuid sql.NullString
	var created, updated int64
	err := sc.Scan(&m.ID, &m.SystemID, &m.Hostname, &m.Domain, &m.Description, &m.Architecture, &m.PowerType,
		&pp, &m.PowerState, &status, &prev, &m.ErrorDescription, &m.StatusMessage, &owner,
		&m.Owner, &m.Locked, &m.Netboot, &m.OSystem, &m.DistroSeries, &m.HWEKernel, &m.MinHWEKernel,
		&m.InstallKVM, &m.UserData, &m.CPUCount, &m.CPUSpeed, &m.Memory, &uuid, &hi, &tags,
		&swap, &m.BiosBootMethod, &m.EnableSSH, &m.SkipNetworking, &m.SkipStorage, &m.Enlisting,
		&ccs, &cts, &cis, &crs, &boot, &m.EnableHWSync, &lastSync, &m.SyncInterval, &created, &updated, &numa, &changes)
	if err != nil {
		return nil, err
	}
	m.Status, m.PreviousStatus = wire.NodeStatus(status), wire.NodeStatus(prev)
	m.OwnerID, m.SwapSize = fromNullInt(owner), fromNullInt(swap)
	m.CurrentCommissioningSet, m.CurrentTestingSet = fromNullInt(ccs), fromNullInt(cts)
	m.CurrentInstallationSet, m.CurrentReleaseSet = fromNullInt(cis), fromNullInt(crs)
	m.BootInterfaceID = fromNullInt(boot)
	m.LastSync = fromNullMicros(lastSync)
	m.HardwareUUID = uuid.String
	if changes != "" {
		m.HardwareChanges = []byte(changes)
	}
	m.Created, m.Updated = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(pp), &m.PowerParameters); err != nil {
		return nil, fmt.Errorf("decode power parameters of %s: %w", m.SystemID, err)
	}
	if err := json.Unmarshal([]byte(hi), &m.HardwareInfo); err != nil {
		return nil, fmt.Errorf("decode hardware info of %s: %w", m.SystemID, err)
	}
	if err := json.Unmarshal([]byte(tags), &m.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of %s: %w", m.SystemID, err)
	}
	if err := json.Unmarshal([]byte(numa), &m.NUMANodes); err != nil {
		return nil, fmt.Errorf("decode NUMA nodes of %s: %w", m.SystemID, err)
	}
	return &m, nil
}

// CreateMachine stores m and sets its ID; ErrConflict when the system id or hostname is taken.
func (t *Tx) CreateMachine(m *Machine) error {
	now := time.Now()
	if m.Created.IsZero() {
		m.Created = now
	}
	m.Updated = now
	vals, err := m.values()
	if err != nil {
		return err
	}
	id, err := t.insertRow("machines", machineColumns, vals)
	if err != nil {
		return fmt.Errorf("create machine %q: %w", m.Hostname, err)
	}
	m.ID = id
	return nil
}

// UpdateMachine writes every field of m.
func (t *Tx) UpdateMachine(m *Machine) error {
	m.Updated = time.Now()
	vals, err := m.values()
	if err != nil {
		return err
	}
	// status_message is the newest event's (AddEvent writes it): a machine read before an
	// event and written after it must not put the older message back.
	cols := make([]string, 0, len(machineColumns))
	kept := make([]any, 0, len(vals))
	for i, c := range machineColumns {
		if c != "status_message" {
			cols, kept = append(cols, c), append(kept, vals[i])
		}
	}
	if err := t.updateRow("machines", m.ID, cols, kept); err != nil {
		return fmt.Errorf("update machine %s: %w", m.SystemID, err)
	}
	return nil
}

// MachineBySystemID finds a machine by system id.
func (t *Tx) MachineBySystemID(systemID string) (*Machine, error) {
	m, err := scanMachine(t.queryRow(machineSelect+` WHERE m.system_id = ?`, systemID))
	return m, notFound(err, fmt.Sprintf("machine %q", systemID))
}

// MachineByID finds a machine by database id.
func (t *Tx) MachineByID(id int64) (*Machine, error) {
	m, err := scanMachine(t.queryRow(machineSelect+` WHERE m.id = ?`, id))
	return m, notFound(err, fmt.Sprintf("machine %d", id))
}

// MachineFilter selects machines; empty fields match everything, several values in one field
// match any of them.
type MachineFilter struct {
	SystemIDs []string
	Hostnames []string
	Statuses  []wire.NodeStatus
	OwnerID   *int64
	MACs      []string // machines with an interface of one of these (lower-case, colons)
	Domains   []string
	MinCPUs   int    // at least this many CPUs (0: any)
	MinMemory int64  // at least this much memory, MiB (0: any)
	Tag       string // machines carrying this tag
}

// where gathers a query's conditions, joined with AND, and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// clause is " WHERE …", or "" without conditions.
func (w *where) clause() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// inList adds the condition cond, whose %s stands for the placeholders of vals ("col IN
// (%s)"); nothing when vals is empty.
func inList[T any](w *where, cond string, vals []T) {
	if len(vals) == 0 {
		return
	}
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(fmt.Sprintf(cond, placeholders(len(vals))), args...)
}

// HardwareUUIDTaken reports whether a machine other than except has the hardware UUID uuid
// (compared without case).
func (t *Tx) HardwareUUIDTaken(uuid string, except int64) (bool, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM machines WHERE lower(hardware_uuid) = lower(?) AND id <> ?`, uuid, except).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up machines by hardware uuid: %w", err)
	}
	return n > 0, nil
}

// Machines lists the machines matching f, ordered by id.
func (t *Tx) Machines(f MachineFilter) ([]Machine, error) {
	var w where
	inList(&w, "m.system_id IN (%s)", f.SystemIDs)
	inList(&w, "m.hostname IN (%s)", f.Hostnames)
	statuses := make([]int, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = int(st)
	}
	inList(&w, "m.status IN (%s)", statuses)
	if f.OwnerID != nil {
		w.add("m.owner_id = ?", *f.OwnerID)
	}
	inList(&w, "m.id IN (SELECT node_id FROM interfaces WHERE mac_address IN (%s))", f.MACs)
	inList(&w, "m.domain IN (%s)", f.Domains)
	if f.MinCPUs > 0 {
		w.add("m.cpu_count >= ?", f.MinCPUs)
	}
	if f.MinMemory > 0 {
		w.add("m.memory >= ?", f.MinMemory)
	}
	if f.Tag != "" {
		// tags is a JSON list of strings: the name between quotes, JSON-escaped, then LIKE-escaped.
		q, _ := json.Marshal(f.Tag)
		pat := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(string(q))
		w.add(`m.tags LIKE ? ESCAPE '\'`, "%"+pat+"%")
	}
	return queryAll(t, "machines", scanMachine, machineSelect+w.clause()+" ORDER BY m.id", w.args...)
}

// DeleteMachine removes a machine with its interfaces, tokens and events.
func (t *Tx) DeleteMachine(id int64) error {
	r, err := t.exec(`DELETE FROM machines WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete machine %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("machine %d: %w", id, ErrNotFound)
	}
	return nil
}

// Event is one step in a machine's history.
type Event struct {
	ID          int64
	NodeID      int64
	Type        string
	Level       string // DEBUG, INFO, WARNING, ERROR
	Description string
	Username    string
	Created     time.Time
}

// AddEvent records an event for a machine and makes its description the machine's status
// message when the level is INFO or above.
func (t *Tx) AddEvent(e *Event) error {
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	if e.Level == "" {
		e.Level = "INFO"
	}
	id, err := t.insert(`INSERT INTO events (node_id, type, level, description, username, created) VALUES (?, ?, ?, ?, ?, ?)`,
		e.NodeID, e.Type, e.Level, e.Description, e.Username, micros(e.Created))
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	e.ID = id
	if e.Level != "DEBUG" {
		msg := e.Type
		if e.Description != "" {
			msg = e.Type + " - " + e.Description
		}
		if _, err := t.exec(`UPDATE machines SET status_message = ? WHERE id = ?`, msg, e.NodeID); err != nil {
			return fmt.Errorf("record event: %w", err)
		}
	}
	return nil
}

// EventFilter selects events.
type EventFilter struct {
	NodeIDs  []int64
	Level    string // minimum level; "" means all
	AfterID  int64
	BeforeID int64
	Username string // "" means any
	Limit    int
	// OldestFirst lists the oldest events first (the oldest after AfterID, with Limit);
	// else the newest come first.
	OldestFirst bool
}

// Events lists events, newest first unless f.OldestFirst.
func (t *Tx) Events(f EventFilter) ([]Event, error) {
	var w where
	inList(&w, "node_id IN (%s)", f.NodeIDs)
	inList(&w, "level IN (%s)", levelsFrom(f.Level))
	if f.AfterID > 0 {
		w.add("id > ?", f.AfterID)
	}
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	if f.Username != "" {
		w.add("username = ?", f.Username)
	}
	q := `SELECT id, node_id, type, level, description, username, created FROM events` + w.clause()
	if f.OldestFirst {
		q += " ORDER BY id"
	} else {
		q += " ORDER BY id DESC"
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	return queryAll(t, "events", scanEvent, q, w.args...)
}

func scanEvent(sc scanner) (*Event, error) {
	var e Event
	var created int64
	if err := sc.Scan(&e.ID, &e.NodeID, &e.Type, &e.Level, &e.Description, &e.Username, &created); err != nil {
		return nil, err
	}
	e.Created = fromMicros(created)
	return &e, nil
}

var eventLevels = []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}

func levelsFrom(min string) []string {
	for i, l := range eventLevels {
		if strings.EqualFold(l, min) {
			return eventLevels[i:]
		}
	}
	return nil
}

func orEmptyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func orEmptyStrMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
