package api



// routes is the API's handler table. Handler and action names are upstream's, so the upstream
// CLI derives the same commands (MachinesHandler → "machines", op allocate → "allocate").
func (s *Server) routes() []*handler {
	hs := []*handler{
		{name: "VersionHandler", path: "/MAAS/api/2.0/version/", doc: "Information about this region's API.",
			actions: []*action{
				{name: "read", method: "GET", access: anonymous, fn: readVersion, doc: "Read the API version and capabilities."},
			}},
		{name: "UsersHandler", path: "/MAAS/api/2.0/users/", doc: "Manage the region's users.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readUsers, doc: "List users."},
				{name: "create", method: "POST", access: authAdmin, fn: createUser, doc: "Create a user.",
					params: []param{{"username", "The user's name."}, {"email", "The user's e-mail address."},
						{"password", "Accepted for compatibility; the region authenticates API keys only."},
						{"is_superuser", "Whether the user is an administrator (true/false)."}}},
				{name: "whoami", method: "GET", op: "whoami", access: authUser, fn: whoami, doc: "Read the user the request is signed as."},
			}},
		{name: "UserHandler", path: "/MAAS/api/2.0/users/{username}/", doc: "Manage one user.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readUser, doc: "Read a user."},
				{name: "delete", method: "DELETE", access: authAdmin, fn: deleteUser, doc: "Delete a user and their API keys."},
			}},
		{name: "AccountHandler", path: "/MAAS/api/2.0/account/", doc: "Manage the caller's API keys.",
			actions: []*action{
				{name: "create_authorisation_token", method: "POST", op: "create_authorisation_token", access: authUser,
					fn: createKey, doc: "Create an API key for the caller.", params: []param{{"name", "Accepted for compatibility."}}},
				{name: "delete_authorisation_token", method: "POST", op: "delete_authorisation_token", access: authUser,
					fn: deleteKey, doc: "Delete one of the caller's API keys.", params: []param{{"token_key", "The key's token key."}}},
				{name: "list_authorisation_tokens", method: "GET", op: "list_authorisation_tokens", access: authUser,
					fn: listKeys, doc: "List the caller's API keys."},
			}},
		{name: "MachinesHandler", path: "/MAAS/api/2.0/machines/", doc: "Manage the collection of machines.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readMachines, doc: "List machines, optionally filtered.",
					params: []param{{"hostname", "Only machines with this hostname (repeatable)."},
						{"system_id", "Only machines with this system id (repeatable)."},
						{"id", "Same as system_id."},
						{"status", "Only machines in this status, e.g. ready or deployed (repeatable)."}}},
				{name: "create", method: "POST", access: authAdmin, fn: createMachine, doc: "Add a machine.",
					params: []param{{"hostname", "The hostname; a random one when omitted."},
						{"architecture", "The architecture, e.g. amd64 or amd64/generic; required unless deployed=true."},
						{"mac_addresses", "The machine's MAC addresses (repeatable or comma-separated)."},
						{"power_type", "How the machine is powered: manual (the default) or a BMC type."},
						{"power_parameters", "The power driver's parameters as a JSON object."},
						{"description", "A free-text description."},
						{"domain", "The DNS domain (default maas)."},
						{"deployed", "Create the machine already Deployed, owned by the caller (true/false)."},
						{"commission", "Start commissioning at once (default true unless deployed)."},
						{"commissioning_scripts", "Commissioning scripts to run besides the built-in ones."},
						{"testing_scripts", "Testing scripts to run after commissioning, or none."}}},
				{name: "allocate", method: "POST", op: "allocate", access: authUser, fn: allocateMachine,
					doc: "Allocate a Ready machine to the caller: a random one, or one matching the constraints.",
					params: []param{{"system_id", "Allocate this machine."}, {"name", "Allocate the machine with this hostname."},
						{"hostname", "Same as name."}, {"arch", "Architecture the machine must have."},
						{"tags", "Tags the machine must have (comma-separated)."},
						{"cpu_count", "Minimum number of CPUs."}, {"mem", "Minimum memory in MiB."},
						{"comment", "Recorded in the machine's events."}}},
				{name: "is_registered", method: "GET", op: "is_registered", access: anonymous, fn: isRegistered,
					doc: "Whether a MAC address belongs to a known machine.",
					params: []param{{"mac_address", "The MAC address (comma-separated for several)."}}},
			}},
		{name: "MachineHandler", path: "/MAAS/api/2.0/machines/{system_id}/", doc: "Manage one machine.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readMachine, doc: "Read a machine."},
				{name: "update", method: "PUT", access: authAdmin, fn: updateMachine, doc: "Change a machine's settings.",
					params: []param{{"hostname", "New hostname."}, {"description", "New description."},
						{"architecture", "New architecture."}, {"power_type", "New power type."},
						{"power_parameters", "New power parameters as a JSON object."}, {"domain", "New domain."}}},
				{name: "delete", method: "DELETE", access: authAdmin, fn: deleteMachine, doc: "Delete a machine."},
				{name: "get_token", method: "GET", op: "get_token", access: authAdmin, fn: getToken,
					doc: "Read the machine's metadata token (consumer_key, token_key, token_secret)."},
				{name: "deploy", method: "POST", op: "deploy", access: authUser, fn: deployMachine,
					doc: "Deploy an Allocated machine (a Ready one is allocated to the caller first).",
					params: []param{{"distro_series", "The release to deploy."}, {"osystem", "The operating system."},
						{"hwe_kernel", "The kernel to deploy."}, {"user_data", "Base64-encoded cloud-init user data."},
						{"install_kvm", "Make the machine a KVM host (true/false)."},
						{"enable_hw_sync", "Keep reporting the machine's hardware once deployed (true/false)."},
						{"comment", "Recorded in the machine's events."}}},
				{name: "release", method: "POST", op: "release", access: authUser, fn: releaseMachine,
					doc: "Release the machine back to Ready.", params: []param{{"comment", "Recorded in the machine's events."}}},
			}},
		{name: "InterfacesHandler", path: "/MAAS/api/2.0/nodes/{system_id}/interfaces/", doc: "A machine's network interfaces.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readInterfaces, doc: "List the machine's interfaces."},
			}},
		{name: "InterfaceHandler", path: "/MAAS/api/2.0/nodes/{system_id}/interfaces/{id}/", doc: "One network interface.",
			actions: []*action{
				{name: "read", method: "GET", access: authUser, fn: readInterface, doc: "Read an interface."},
				{name: "update", method: "PUT", access: authAdmin, fn: updateInterface, doc: "Change an interface.",
					params: []param{{"name", "New name."}, {"mac_address", "New MAC address."},
						{"link_connected", "Whether a cable is connected (true/false)."},
						{"link_speed", "Current link speed in Mbit/s."}, {"interface_speed", "Interface speed in Mbit/s."},
						{"mtu", "MTU."}, {"tags", "Tags (comma-separated)."}}},
			}},
		{name: "MaasHandler", path: "/MAAS/api/2.0/maas/", doc: "Region-wide settings.",
			actions: []*action{
				{name: "get_config", method: "GET", op: "get_config", access: authUser, fn: getConfig,
					doc: "Read a configuration value. Names: " + configNames() + ".",
					params: []param{{"name", "The setting's name (node_timeout, or node-timeout)."}}},
				{name: "set_config", method: "POST", op: "set_config", access: authAdmin, fn: setConfig,
					doc: "Set a configuration value. Names: " + configNames() + ".",
					params: []param{{"name", "The setting's name (node_timeout, or node-timeout)."}, {"value", "The new value."}}},
			}},
	}
	for _, h := range hs {
		h.segs = splitPath(h.path)
	}
	return hs
}


