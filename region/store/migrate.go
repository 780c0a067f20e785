package store

import (
	"context"
	"fmt"
	"time"
)

// migration is one schema version. Markers {{pk}} and {{blob}} become the engine's types.
type migration struct {
	version int
	name    string
	ddl     string
}

// migrations are applied in order, each once, in its own transaction. Never edit one that has
// shipped: add a new one.
var migrations = []migration{
	{1, "region core", `
CREATE TABLE users (
	id {{pk}},
	username TEXT NOT NULL UNIQUE,
	email TEXT NOT NULL DEFAULT '',
	is_admin BOOLEAN NOT NULL DEFAULT FALSE,
	created BIGINT NOT NULL
);
CREATE TABLE machines (
	id {{pk}},
	system_id TEXT NOT NULL UNIQUE,
	hostname TEXT NOT NULL UNIQUE,
	domain TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	architecture TEXT NOT NULL DEFAULT '',
	power_type TEXT NOT NULL DEFAULT '',
	power_parameters TEXT NOT NULL DEFAULT '{}',
	power_state TEXT NOT NULL DEFAULT 'unknown',
	status INTEGER NOT NULL,
	previous_status INTEGER NOT NULL DEFAULT 0,
	error_description TEXT NOT NULL DEFAULT '',
	status_message TEXT NOT NULL DEFAULT '',
	owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
	locked BOOLEAN NOT NULL DEFAULT FALSE,
	netboot BOOLEAN NOT NULL DEFAULT TRUE,
	osystem TEXT NOT NULL DEFAULT '',
	distro_series TEXT NOT NULL DEFAULT '',
	hwe_kernel TEXT NOT NULL DEFAULT '',
	min_hwe_kernel TEXT NOT NULL DEFAULT '',
	install_kvm BOOLEAN NOT NULL DEFAULT FALSE,
	user_data {{blob}},
	cpu_count INTEGER NOT NULL DEFAULT 0,
	cpu_speed INTEGER NOT NULL DEFAULT 0,
	memory BIGINT NOT NULL DEFAULT 0,
	hardware_uuid TEXT,
	hardware_info TEXT NOT NULL DEFAULT '{}',
	tags TEXT NOT NULL DEFAULT '[]',
	swap_size BIGINT,
	bios_boot_method TEXT NOT NULL DEFAULT '',
	enable_ssh BOOLEAN NOT NULL DEFAULT FALSE,
	skip_networking BOOLEAN NOT NULL DEFAULT FALSE,
	skip_storage BOOLEAN NOT NULL DEFAULT FALSE,
	enlisting BOOLEAN NOT NULL DEFAULT FALSE,
	current_commissioning_set BIGINT,
	current_testing_set BIGINT,
	current_installation_set BIGINT,
	current_release_set BIGINT,
	boot_interface_id BIGINT,
	enable_hw_sync BOOLEAN NOT NULL DEFAULT FALSE,
	last_sync BIGINT,
	sync_interval INTEGER NOT NULL DEFAULT 0,
	status_expires BIGINT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX machines_status ON machines (status);
CREATE TABLE tokens (
	id {{pk}},
	kind TEXT NOT NULL,
	user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
	node_id BIGINT REFERENCES machines(id) ON DELETE CASCADE,
	consumer_key TEXT NOT NULL,
	consumer_secret TEXT NOT NULL DEFAULT '',
	token_key TEXT NOT NULL UNIQUE,
	token_secret TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_node ON tokens (node_id);
CREATE TABLE nonces (
	token_key TEXT NOT NULL,
	nonce TEXT NOT NULL,
	ts BIGINT NOT NULL,
	PRIMARY KEY (token_key, nonce)
);
CREATE INDEX nonces_ts ON nonces (ts);
CREATE TABLE interfaces (
	id {{pk}},
	node_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	type TEXT NOT NULL DEFAULT 'physical',
	mac_address TEXT NOT NULL DEFAULT '',
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	vendor TEXT,
	product TEXT,
	firmware_version TEXT,
	link_connected BOOLEAN NOT NULL DEFAULT TRUE,
	interface_speed BIGINT NOT NULL DEFAULT 0,
	link_speed BIGINT NOT NULL DEFAULT 0,
	numa_node INTEGER NOT NULL DEFAULT 0,
	sriov_max_vf INTEGER NOT NULL DEFAULT 0,
	mtu INTEGER NOT NULL DEFAULT 1500,
	params TEXT NOT NULL DEFAULT '',
	tags TEXT NOT NULL DEFAULT '[]',
	parents TEXT NOT NULL DEFAULT '[]',
	links TEXT NOT NULL DEFAULT '[]',
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	UNIQUE (node_id, name)
);
CREATE UNIQUE INDEX interfaces_physical_mac ON interfaces (mac_address) WHERE type = 'physical' AND mac_address <> '';
CREATE TABLE config (
	name TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
CREATE TABLE events (
	id {{pk}},
	node_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	type TEXT NOT NULL,
	level TEXT NOT NULL,
	description TEXT NOT NULL,
	username TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE INDEX events_node ON events (node_id, id);
CREATE TABLE locks (
	name TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	expires BIGINT NOT NULL
);
`},
	{2, "scripts and results", `
CREATE TABLE scripts (
	id {{pk}},
	name TEXT NOT NULL UNIQUE,
	title TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	tags TEXT NOT NULL DEFAULT '[]',
	script_type INTEGER NOT NULL,
	hardware_type INTEGER NOT NULL DEFAULT 0,
	parallel INTEGER NOT NULL DEFAULT 0,
	timeout_us BIGINT NOT NULL DEFAULT 0,
	destructive BOOLEAN NOT NULL DEFAULT FALSE,
	may_reboot BOOLEAN NOT NULL DEFAULT FALSE,
	recommission BOOLEAN NOT NULL DEFAULT FALSE,
	apply_configured_networking BOOLEAN NOT NULL DEFAULT FALSE,
	packages TEXT NOT NULL DEFAULT '{}',
	for_hardware TEXT NOT NULL DEFAULT '[]',
	results TEXT NOT NULL DEFAULT '{}',
	parameters TEXT NOT NULL DEFAULT '{}',
	is_default BOOLEAN NOT NULL DEFAULT FALSE,
	current_version BIGINT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE TABLE script_versions (
	id {{pk}},
	script_id BIGINT NOT NULL REFERENCES scripts(id) ON DELETE CASCADE,
	data {{blob}} NOT NULL,
	comment TEXT,
	created BIGINT NOT NULL
);
CREATE INDEX script_versions_script ON script_versions (script_id, id);
CREATE TABLE block_devices (
	id {{pk}},
	node_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	id_path TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	serial TEXT NOT NULL DEFAULT '',
	size BIGINT NOT NULL DEFAULT 0,
	block_size INTEGER NOT NULL DEFAULT 512,
	firmware_version TEXT NOT NULL DEFAULT '',
	numa_node INTEGER NOT NULL DEFAULT 0,
	tags TEXT NOT NULL DEFAULT '[]',
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX block_devices_node ON block_devices (node_id);
CREATE TABLE script_sets (
	id {{pk}},
	node_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	result_type INTEGER NOT NULL,
	last_ping BIGINT,
	tags TEXT NOT NULL DEFAULT '[]',
	created BIGINT NOT NULL
);
CREATE INDEX script_sets_node ON script_sets (node_id, result_type, id);
CREATE TABLE script_results (
	id {{pk}},
	script_set_id BIGINT NOT NULL REFERENCES script_sets(id) ON DELETE CASCADE,
	script_id BIGINT REFERENCES scripts(id) ON DELETE SET NULL,
	script_version_id BIGINT,
	script_name TEXT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,
	exit_status INTEGER,
	parameters TEXT NOT NULL DEFAULT '{}',
	output {{blob}},
	stdout {{blob}},
	stderr {{blob}},
	result {{blob}},
	started BIGINT,
	ended BIGINT,
	suppressed BOOLEAN NOT NULL DEFAULT FALSE,
	interface_id BIGINT,
	block_device_id BIGINT,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX script_results_set ON script_results (script_set_id, id);
CREATE INDEX script_results_status ON script_results (status);
CREATE TABLE signal_keys (
	node_id BIGINT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
	key TEXT NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (node_id, key)
);
CREATE INDEX signal_keys_created ON signal_keys (created);
`},
	{3, "numa nodes", `
ALTER TABLE machines ADD COLUMN numa_nodes TEXT NOT NULL DEFAULT '[]';
`},
	{4, "node timeout from script sets", `
ALTER TABLE machines DROP COLUMN status_expires;
`},
	{5, "link reports and neighbours", `
ALTER TABLE interfaces ADD COLUMN neighbours TEXT NOT NULL DEFAULT '[]';
ALTER TABLE script_results ADD COLUMN link_connected BOOLEAN;
ALTER TABLE script_results ADD COLUMN link_speed BIGINT;
ALTER TABLE script_results ADD COLUMN interface_speed BIGINT;
`},
	{6, "vlan ids of interfaces", `
ALTER TABLE interfaces ADD COLUMN vid INTEGER;
`},
	{7, "names of API keys", `
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
`},
	{8, "machines by hardware uuid", `
CREATE INDEX machines_hardware_uuid ON machines (lower(hardware_uuid));
`},
	// A result's outputs (up to megabytes) inline in its row made every listing of results
	// read through them.
	{9, "script result outputs apart", `
CREATE TABLE script_result_outputs (
	result_id BIGINT PRIMARY KEY REFERENCES script_results(id) ON DELETE CASCADE,
	output {{blob}},
	stdout {{blob}},
	stderr {{blob}},
	result {{blob}}
);
INSERT INTO script_result_outputs (result_id, output, stdout, stderr, result)
	SELECT id, output, stdout, stderr, result FROM script_results
	WHERE output IS NOT NULL OR stdout IS NOT NULL OR stderr IS NOT NULL OR result IS NOT NULL;
ALTER TABLE script_results DROP COLUMN output;
ALTER TABLE script_results DROP COLUMN stdout;
ALTER TABLE script_results DROP COLUMN stderr;
ALTER TABLE script_results DROP COLUMN result;
`},
	// The web interface: users log in with a password (an argon2id hash, '' for none) and
	// hold sessions, each stored by the SHA-256 of its id with its CSRF token.
	{10, "passwords and web sessions", `
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
CREATE TABLE sessions (
	id_hash TEXT PRIMARY KEY,
	user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	csrf TEXT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);
`},
	// What changed in a machine's hardware between its last two commissionings (JSON, '' before
	// its second); a script's earlier runtimes found by name (run estimates); inventories
	// derived again from a commissioning's hardware snapshot by a newer parser, by the
	// inventory result they stand in for.
	{11, "hardware changes, runtimes by script, re-parsed inventories", `
ALTER TABLE machines ADD COLUMN hardware_changes TEXT NOT NULL DEFAULT '';
CREATE INDEX script_results_name ON script_results (script_name, status, id);
CREATE TABLE reparsed_inventories (
	result_id BIGINT PRIMARY KEY REFERENCES script_results(id) ON DELETE CASCADE,
	document {{blob}} NOT NULL,
	parsed BIGINT NOT NULL
);
`},
	// Expected hardware profiles, of one machine or of the machines with a tag (YAML); the
	// tags an administrator made (machines list the names they carry).
	{12, "hardware profiles and tags", `
CREATE TABLE tags (
	name TEXT PRIMARY KEY,
	comment TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL
);
CREATE TABLE hardware_profiles (
	id {{pk}},
	node_id BIGINT UNIQUE REFERENCES machines(id) ON DELETE CASCADE,
	tag TEXT UNIQUE,
	profile TEXT NOT NULL,
	updated BIGINT NOT NULL
);
`},
}

// SchemaVersion is the newest migration this build knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

func (s *Store) migrate(ctx context.Context) error {
	return s.Update(ctx, func(tx *Tx) error {
		if s.eng.name() == "postgres" {
			// Region processes starting together wait for each other here.
			if _, err := tx.exec(`SELECT pg_advisory_xact_lock(5240)`); err != nil {
				return fmt.Errorf("lock schema: %w", err)
			}
		}
		if _, err := tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.queryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if current > SchemaVersion() {
			return fmt.Errorf("database schema version %d is newer than this build's %d: upgrade the region", current, SchemaVersion())
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			if _, err := tx.exec(s.eng.ddl(m.ddl)); err != nil {
				return fmt.Errorf("apply migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
				m.version, m.name, micros(time.Now())); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}

// AppliedVersion reports the schema version the database is at.
func (s *Store) AppliedVersion(ctx context.Context) (int, error) {
	var v int
	err := s.View(ctx, func(tx *Tx) error {
		return tx.queryRow(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	})
	return v, err
}
