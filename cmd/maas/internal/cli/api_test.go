package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSeedCommands runs the user guide's commands (for handlers the fake region describes the
// way upstream does) and checks the requests they make.
func TestSeedCommands(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	dir := t.TempDir()
	script := filepath.Join(dir, "smart.sh")
	if err := os.WriteFile(script, []byte("#!/bin/bash\n# --- Start MAAS 1.0 script metadata ---\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	scriptBody := "#!/bin/bash\n# --- Start MAAS 1.0 script metadata ---\n"
	for _, tc := range []struct {
		name   string
		args   string
		want   seen
		stdout string
	}{
		{"commission", "machine commission bhxws3 commissioning_scripts=smart,cpu testing_scripts=none",
			seen{Method: "POST", Path: "/MAAS/api/2.0/machines/bhxws3/", Query: "op=commission", Body: true,
				Parts: []part{{"commissioning_scripts", "", "smart,cpu"}, {"testing_scripts", "", "none"}}}, ""},
		{"commission without options has no body", "machine commission bhxws3",
			seen{Method: "POST", Path: "/MAAS/api/2.0/machines/bhxws3/", Query: "op=commission"}, ""},
		{"machines read", "machines read", seen{Method: "GET", Path: "/MAAS/api/2.0/machines/"},
			`{"hostname":"ace-swan","system_id":"bhxws3","tags":["a","b"]}`},
		{"node-script download", "node-script download smartctl-validate",
			seen{Method: "GET", Path: "/MAAS/api/2.0/scripts/smartctl-validate", Query: "op=download"}, "#!/bin/sh\necho built-in\n"},
		{"node-scripts create script=PATH", "node-scripts create name=smart script=" + script + " type=testing",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/", Body: true,
				Parts: []part{{"name", "", "smart"}, {"script", "script", scriptBody}, {"type", "", "testing"}}}, ""},
		{"node-scripts create script@=PATH", "node-scripts create name=smart script@=" + script + " type=commissioning",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/", Body: true,
				Parts: []part{{"name", "", "smart"}, {"script", "script", scriptBody}, {"type", "", "commissioning"}}}, ""},
		{"node-scripts read", "node-scripts read type=testing filters=cpu",
			seen{Method: "GET", Path: "/MAAS/api/2.0/scripts/", Query: "type=testing&filters=cpu"}, ""},
		{"node-script update", "node-script update smart script=" + script + " comment=Updated_version",
			seen{Method: "PUT", Path: "/MAAS/api/2.0/scripts/smart", Body: true,
				Parts: []part{{"script", "script", scriptBody}, {"comment", "", "Updated_version"}}}, ""},
		{"node-script revert", "node-script revert smart to=34",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/smart", Query: "op=revert", Body: true, Parts: []part{{"to", "", "34"}}}, ""},
		{"node-script revert steps back", "node-script revert smart to=-1",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/smart", Query: "op=revert", Body: true, Parts: []part{{"to", "", "-1"}}}, ""},
		{"node-script delete", "node-script delete smart", seen{Method: "DELETE", Path: "/MAAS/api/2.0/scripts/smart"}, ""},
		{"node-script add-tag", "node-script add-tag smart tag=cpu",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/smart", Query: "op=add_tag", Body: true, Parts: []part{{"tag", "", "cpu"}}}, ""},
		{"node-script remove-tag", "node-script remove-tag smart tag=cpu",
			seen{Method: "POST", Path: "/MAAS/api/2.0/scripts/smart", Query: "op=remove_tag", Body: true, Parts: []part{{"tag", "", "cpu"}}}, ""},
		{"node-script-result read", "node-script-result read bhxws3 current-commissioning",
			seen{Method: "GET", Path: "/MAAS/api/2.0/nodes/bhxws3/results/current-commissioning/"}, ""},
		{"node-script-results read", "node-script-results read bhxws3 type=testing filters=smart,cpu",
			seen{Method: "GET", Path: "/MAAS/api/2.0/nodes/bhxws3/results/", Query: "type=testing&filters=smart%2Ccpu"}, ""},
		{"node-script-results update", "node-script-results update bhxws3 type=testing filters=smart suppressed=True",
			seen{Method: "PUT", Path: "/MAAS/api/2.0/nodes/bhxws3/results/", Body: true,
				Parts: []part{{"type", "", "testing"}, {"filters", "", "smart"}, {"suppressed", "", "True"}}}, ""},
		{"node-script-result download", "node-script-result download bhxws3 21 output=all filetype=tar.xz",
			seen{Method: "GET", Path: "/MAAS/api/2.0/nodes/bhxws3/results/21/", Query: "op=download&output=all&filetype=tar.xz"}, string(tarBytes)},
		{"interfaces read", "interfaces read bhxws3", seen{Method: "GET", Path: "/MAAS/api/2.0/nodes/bhxws3/interfaces/"}, ""},
		{"interface update link_connected", "interface update bhxws3 10 link_connected=true",
			seen{Method: "PUT", Path: "/MAAS/api/2.0/nodes/bhxws3/interfaces/10/", Body: true, Parts: []part{{"link_connected", "", "true"}}}, ""},
		{"interface update speeds", "interface update bhxws3 10 link_speed=1000 interface_speed=10000",
			seen{Method: "PUT", Path: "/MAAS/api/2.0/nodes/bhxws3/interfaces/10/", Body: true,
				Parts: []part{{"link_speed", "", "1000"}, {"interface_speed", "", "10000"}}}, ""},
		{"allocate", "machines allocate", seen{Method: "POST", Path: "/MAAS/api/2.0/machines/", Query: "op=allocate"}, ""},
		{"allocate one", "machines allocate system_id=bhxws3",
			seen{Method: "POST", Path: "/MAAS/api/2.0/machines/", Query: "op=allocate", Body: true, Parts: []part{{"system_id", "", "bhxws3"}}}, ""},
		{"deploy", "machine deploy bhxws3", seen{Method: "POST", Path: "/MAAS/api/2.0/machines/bhxws3/", Query: "op=deploy"}, ""},
		{"deploy kvm", "machine deploy bhxws3 install_kvm=True",
			seen{Method: "POST", Path: "/MAAS/api/2.0/machines/bhxws3/", Query: "op=deploy", Body: true, Parts: []part{{"install_kvm", "", "True"}}}, ""},
		{"set-config", "maas set-config name=node-timeout value=45",
			seen{Method: "POST", Path: "/MAAS/api/2.0/maas/", Query: "op=set_config", Body: true, Parts: []part{{"name", "", "node-timeout"}, {"value", "", "45"}}}, "OK"},
		{"create deployed", "machines create deployed=true hostname=mymachine architecture=amd64 mac_addresses=00:16:3e:df:35:bb power_type=manual",
			seen{Method: "POST", Path: "/MAAS/api/2.0/machines/", Body: true, Parts: []part{{"deployed", "", "true"}, {"hostname", "", "mymachine"},
				{"architecture", "", "amd64"}, {"mac_addresses", "", "00:16:3e:df:35:bb"}, {"power_type", "", "manual"}}}, ""},
		{"get-token", "machine get-token wxwwga", seen{Method: "GET", Path: "/MAAS/api/2.0/machines/wxwwga/", Query: "op=get_token"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := e.run(append([]string{"admin"}, strings.Fields(tc.args)...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if stderr != "" {
				t.Errorf("stderr: %q", stderr)
			}
			reqs := f.takeRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests; want 1: %+v", len(reqs), reqs)
			}
			tc.want.Signed = true
			if diff := cmp.Diff(tc.want, reqs[0]); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if tc.stdout != "" && stdout != tc.stdout {
				t.Errorf("stdout = %q; want %q", stdout, tc.stdout)
			}
		})
	}
}

// TestUsageErrors: mistakes give one line on stderr, exit status 2, and no request.
func TestUsageErrors(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	missing := filepath.Join(t.TempDir(), "nope.sh")
	for _, tc := range []struct {
		args string
		want string
	}{
		{"admin machines read hostname", `maas admin machines read: "hostname": not a name=value or name@=filename pair`},
		{"admin machines read =x", `maas admin machines read: "=x": not a name=value or name@=filename pair (the name is empty)`},
		{"admin machine deploy", "maas admin machine deploy: missing SYSTEM_ID (usage: maas admin machine deploy SYSTEM_ID)"},
		{"admin machine deploy install_kvm=True", "maas admin machine deploy: missing SYSTEM_ID"},
		{"admin node-script-result read bhxws3", "maas admin node-script-result read: missing ID (usage: maas admin node-script-result read SYSTEM_ID ID)"},
		{"admin machine get-token a b", `maas admin machine get-token: unexpected argument "b" (it takes only SYSTEM_ID)`},
		{"admin machine get-token a x=1", `maas admin machine get-token: unexpected argument "x=1" (it takes only SYSTEM_ID)`},
		{"admin interfaces read a b", `maas admin interfaces read: unexpected argument "b" (it takes only SYSTEM_ID)`},
		{"admin machine deploy a b", `maas admin machine deploy: "b": not a name=value or name@=filename pair`},
		{"admin node-scripts create name=x script@=" + missing, "maas admin node-scripts create: script@=" + missing + ": no such file or directory"},
		{"admin machins read", `unknown resource "machins" for "maas admin" (did you mean machine or machines?); see maas admin --help`},
		{"admin machines bogus", `unknown action "bogus" for "maas admin machines"; see maas admin machines --help`},
		{"admin machines reed", `unknown action "reed" for "maas admin machines" (did you mean read?)`},
		{"nosuch machines read", `unknown command or profile "nosuch" (log in with: maas login nosuch URL API_KEY)`},
		{"admin machines read --bogus", "maas admin machines read: unknown flag: --bogus"},
		{"--bogus admin machines read", "maas: unknown flag: --bogus (see maas --help)"},
		{"admin machines", "maas admin machines: missing action"},
		{"admin", "maas admin: missing resource"},
		{"", "missing command"},
		{"login x", "login takes PROFILE URL [API_KEY|-], got 1 argument(s)"},
		{"login list http://h/MAAS a:b:c", `profile name "list" is taken by the built-in command`},
		{"login a/b http://h/MAAS a:b:c", "profile name"},
		{"login p ftp://h/MAAS a:b:c", "want http:// or https://"},
		{"login p http://h/MAAS notakey", "invalid API key: malformed credentials"},
		{"logout nobody", `no profile named "nobody"`},
		{"list extra", "list takes no arguments"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			_, stderr, code := e.run(strings.Fields(tc.args)...)
			if code != 2 {
				t.Errorf("exit %d; want 2", code)
			}
			lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "maas: ") || strings.HasPrefix(last, "maas: maas: ") || !strings.Contains(last, tc.want) {
				t.Errorf("stderr last line %q; want it to contain %q", last, tc.want)
			}
			if reqs := f.takeRequests(); len(reqs) != 0 {
				t.Errorf("requests sent: %+v", reqs)
			}
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	for _, tc := range []struct {
		name   string
		args   string
		tty    bool
		stdout string
		stderr string
	}{
		{"404 piped", "machine read missing", false, "No machine with system ID missing.\n", "HTTP 404: Not Found\n"},
		{"404 tty", "machine read missing", true, "No machine with system ID missing.\n\n", "HTTP 404: Not Found\n"},
		{"409", "machine deploy busy", false, "No machine available.", "HTTP 409: Conflict\n"},
		{"400 json piped", "interface update invalid 1 link_speed=10", false,
			`{"link_speed": ["link_speed cannot be set when link_connected is false."]}`, "HTTP 400: Bad Request\n"},
		{"400 json tty", "interface update invalid 1 link_speed=10", true,
			"{\n    \"link_speed\": [\n        \"link_speed cannot be set when link_connected is false.\"\n    ]\n}\n", "HTTP 400: Bad Request\n"},
		{"empty error tty", "machine read empty-error", true, "Request failed with code 503: Service Unavailable\n", "HTTP 503: Service Unavailable\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.StdoutTTY = tc.tty
			defer func() { e.StdoutTTY = false }()
			stdout, stderr, code := e.run(append([]string{"admin"}, strings.Fields(tc.args)...)...)
			if code != 2 || stdout != tc.stdout || stderr != tc.stderr {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, %q, %q", code, stdout, stderr, tc.stdout, tc.stderr)
			}
		})
	}
}

func TestTerminalOutput(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	e.StdoutTTY = true
	for _, tc := range []struct{ args, want string }{
		{"machine get-token x", "Success.\nMachine-readable output follows:\n{\n    \"hostname\": \"ace-swan\",\n    \"system_id\": \"bhxws3\",\n    \"tags\": [\n        \"a\",\n        \"b\"\n    ]\n}\n"},
		{"maas set-config name=node_timeout value=30", "Success.\nMachine-readable output follows:\nOK\n"},
		{"node-script delete x", "Success.\nMachine-readable output follows:\n\n"}, // 204: an empty body, then the newline
		// Binary downloads stay raw on a terminal too.
		{"node-script-result download x 1 output=all filetype=tar.xz", string(tarBytes)},
		{"node-script download x", "#!/bin/sh\necho built-in\n"},
	} {
		stdout, stderr, code := e.run(append([]string{"admin"}, strings.Fields(tc.args)...)...)
		if code != 0 || stdout != tc.want {
			t.Errorf("%s: exit %d (%s), stdout %q; want %q", tc.args, code, stderr, stdout, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	for _, tc := range []struct {
		args string
		want []string
	}{
		{"--help", []string{"login", "logout", "list", "refresh", "completion", "admin"}},
		{"admin --help", []string{"node-script ", "node-scripts", "node-script-result ", "node-script-results", "machine ", "machines", "maas ", "interface "}},
		{"admin node-script --help", []string{"Manage or view a custom script.", "add-tag", "remove-tag", "download", "revert", "update", "delete"}},
		{"admin maas --help", []string{"set-config", "get-config"}},
		{"admin node-script-result download --help", []string{"Download script results.", "Positional arguments:\n\tSYSTEM_ID\n\tID",
			"key=value", ":param output: all, combined, stdout, stderr or result.", "GET /MAAS/api/2.0/nodes/{system_id}/results/{id}/?op=download",
			"download SYSTEM_ID ID [key=value ...]", "--debug", "--insecure"}},
		{"admin node-scripts --help", []string{"This functionality is only available to administrators."}},
		{"help admin machine get-token", []string{"Get the machine token.", "get-token SYSTEM_ID"}},
	} {
		stdout, stderr, code := e.run(strings.Fields(tc.args)...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	// Actions without :param take no keyword arguments, and their help does not offer them.
	stdout, _, _ := e.run("admin", "machine", "get-token", "--help")
	if strings.Contains(stdout, "key=value") {
		t.Errorf("get-token help offers keyword arguments:\n%s", stdout)
	}
}

func TestCompletion(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	for _, tc := range []struct {
		args string
		want []string
		not  []string
	}{
		{"__complete ad", []string{"admin"}, nil},
		{"__complete admin node-script", []string{"node-script\t", "node-scripts", "node-script-result\t", "node-script-results"}, []string{"machines"}},
		{"__complete admin machine deploy abc ", []string{"install_kvm=", "distro_series="}, nil},
		{"__complete admin machine deploy abc ins", []string{"install_kvm="}, []string{"distro_series="}},
		{"__complete logout ", []string{"admin"}, nil},
	} {
		args := strings.Fields(tc.args)
		if strings.HasSuffix(tc.args, " ") {
			args = append(args, "")
		}
		stdout, stderr, code := e.run(args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: completions lack %q:\n%s", tc.args, w, stdout)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(stdout, w) {
				t.Errorf("%s: completions offer %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	if stdout, _, code := e.run("completion", "bash"); code != 0 || !strings.Contains(stdout, "__start_maas") {
		t.Errorf("completion bash: exit %d", code)
	}
}
