package api

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestHandlers sends each request to the routes, in process, as the administrator (or as the
// caller a case names) and checks the status and what the body holds. Every case gets a
// machine of its own (deployed, owned by "owner", with an interface and a commissioning run),
// a script and a user: {id}, {iid}, {host}, {mac}, {script} and {user} in a path, a form or
// an expected body stand for them.
func TestHandlers(t *testing.T) {
	w := newAccessWorld(t)
	type tc struct {
		name, method, path string
		form               url.Values
		as                 string // default asAdmin
		status             int
		has                []string // substrings of the body
		exact              string   // the whole body, when set
	}
	cases := []tc{
		{name: "version", method: "GET", path: "version/", as: asAnon, status: 200, has: []string{`"capabilities"`}},
		{name: "whoami", method: "GET", path: "users/?op=whoami", status: 200, has: []string{`"username":"admin"`, `"is_superuser":true`}},
		{name: "users list every user", method: "GET", path: "users/", as: asOther, status: 200, has: []string{`"admin"`, `"owner"`}},
		{name: "user create", method: "POST", path: "users/", form: url.Values{"username": {"newbie"}, "email": {"n@example.com"}}, status: 200, has: []string{`"username":"newbie"`}},
		{name: "user create, bad name", method: "POST", path: "users/", form: url.Values{"username": {"a b"}}, status: 400, has: []string{`"username"`}},
		{name: "user create, taken", method: "POST", path: "users/", form: url.Values{"username": {"owner"}}, status: 400, has: []string{"already exists"}},
		{name: "user read", method: "GET", path: "users/{user}/", status: 200, has: []string{`"username":"u`}},
		{name: "user delete yourself", method: "DELETE", path: "users/admin/", status: 400, has: []string{"yourself"}},
		{name: "user delete", method: "DELETE", path: "users/{user}/", status: 204},
		{name: "keys", method: "GET", path: "account/?op=list_authorisation_tokens", status: 200, has: []string{`"token":"`, `"name":"MAAS consumer"`}},
		{name: "key with a name", method: "POST", path: "account/?op=create_authorisation_token", form: url.Values{"name": {"ci runner"}}, status: 200,
			has: []string{`"name":"ci runner"`, `"token_secret":"`}},
		{name: "key, name too long", method: "POST", path: "account/?op=create_authorisation_token", form: url.Values{"name": {strings.Repeat("k", 256)}}, status: 400,
			has: []string{`"name"`}},

		{name: "machines filter by status", method: "GET", path: "machines/?status=deployed&hostname={host}", status: 200, has: []string{`"hostname":"m`, `"status_name":"Deployed"`}},
		{name: "machines by MAC", method: "GET", path: "machines/?mac_address={mac}", status: 200, has: []string{`"system_id":"{id}"`}},
		{name: "machines by MAC, bad", method: "GET", path: "machines/?mac_address={mac}&mac_address=zz", status: 400, has: []string{`"mac_address"`, "Invalid MAC address(es): zz"}},
		{name: "machines in the default zone and pool", method: "GET", path: "machines/?zone=default&pool=default&hostname={host}", status: 200, has: []string{`"system_id":"{id}"`}},
		{name: "machines in another zone", method: "GET", path: "machines/?zone=elsewhere&hostname={host}", status: 200, exact: "[]"},
		{name: "machines in another pool", method: "GET", path: "machines/?pool=spare&hostname={host}", status: 200, exact: "[]"},
		{name: "machines of an agent", method: "GET", path: "machines/?agent_name=juju&hostname={host}", status: 200, exact: "[]"},
		{name: "machines in another domain", method: "GET", path: "machines/?domain=nosuch&hostname={host}", status: 200, exact: "[]"},
		{name: "machines with much memory", method: "GET", path: "machines/?mem=99999999&hostname={host}", status: 200, exact: "[]"},
		{name: "machines with any memory", method: "GET", path: "machines/?mem=0&cpu_count=0&hostname={host}", status: 200, has: []string{`"system_id":"{id}"`}},
		{name: "machines, too many hostnames", method: "GET", path: "machines/?hostname=a" + strings.Repeat("&hostname=a", 1000), status: 400, has: []string{`"hostname"`, "1001 values"}},
		{name: "machines, bad cpu_count", method: "GET", path: "machines/?cpu_count=many", status: 400, has: []string{`"cpu_count"`, "many"}},
		{name: "machines unknown status", method: "GET", path: "machines/?status=sleeping", status: 400, has: []string{`"status"`}},
		{name: "machine read", method: "GET", path: "machines/{id}/", status: 200, has: []string{`"system_id":"{id}"`, `"owner":"owner"`, `"interface_set"`}},
		{name: "machine unknown", method: "GET", path: "machines/nosuch/", status: 404, has: []string{"nosuch"}},
		{name: "machine of another user", method: "GET", path: "machines/{id}/", as: asOther, status: 403, has: []string{"owned by owner"}},
		{name: "machine update", method: "PUT", path: "machines/{id}/", form: url.Values{"description": {"rack 4"}}, status: 200, has: []string{`"description":"rack 4"`}},
		{name: "machine update, bad power type", method: "PUT", path: "machines/{id}/", form: url.Values{"power_type": {"steam"}}, status: 400, has: []string{`"power_type"`, "steam"}},
		{name: "machine update, bad architecture", method: "PUT", path: "machines/{id}/", form: url.Values{"architecture": {"mips"}}, status: 400, has: []string{`"architecture"`}},
		{name: "machine token", method: "GET", path: "machines/{id}/?op=get_token", status: 200, has: []string{`"token_secret"`}},
		{name: "release", method: "POST", path: "machines/{id}/?op=release", as: asOwner, status: 200, has: []string{`"status_name":"Ready"`, `"owner":null`}},
		{name: "release with erase", method: "POST", path: "machines/{id}/?op=release", form: url.Values{"erase": {"true"}, "quick_erase": {"true"}}, as: asOwner,
			status: 200, has: []string{`"status_name":"Disk erasing"`, `"owner":"owner"`}},
		{name: "release without erase", method: "POST", path: "machines/{id}/?op=release", form: url.Values{"erase": {"false"}, "secure_erase": {"true"}}, as: asOwner,
			status: 200, has: []string{`"status_name":"Ready"`}},
		{name: "release, bad secure_erase", method: "POST", path: "machines/{id}/?op=release", form: url.Values{"erase": {"true"}, "secure_erase": {"maybe"}}, as: asOwner,
			status: 400, has: []string{`"secure_erase"`, "maybe"}},
		{name: "release, bad erase", method: "POST", path: "machines/{id}/?op=release", form: url.Values{"erase": {"2"}}, as: asOwner, status: 400, has: []string{`"erase"`}},
		{name: "release with erase, another user", method: "POST", path: "machines/{id}/?op=release", form: url.Values{"erase": {"true"}}, as: asOther, status: 403},
		{name: "deploy a deployed machine", method: "POST", path: "machines/{id}/?op=deploy", as: asOwner, status: 409, has: []string{"Deployed"}},
		{name: "deploy a VM host, not admin", method: "POST", path: "machines/{id}/?op=deploy", form: url.Values{"install_kvm": {"true"}}, as: asOwner, status: 403, has: []string{"install_kvm"}},
		{name: "abort nothing", method: "POST", path: "machines/{id}/?op=abort", status: 409, has: []string{"only commissioning, testing, deploying or disk erasing"}},
		{name: "power on, manual", method: "POST", path: "machines/{id}/?op=power_on", as: asOwner, status: 200, has: []string{`"power_state":"unknown"`}},
		{name: "power query", method: "GET", path: "machines/{id}/?op=query_power_state", status: 200, has: []string{`"state"`}},
		{name: "test, unknown script", method: "POST", path: "machines/{id}/?op=test", form: url.Values{"testing_scripts": {"nosuch"}}, status: 400, has: []string{`"testing_scripts"`, "nosuch"}},
		{name: "test a deployed machine destructively", method: "POST", path: "machines/{id}/?op=test", form: url.Values{"testing_scripts": {"badblocks-destructive"}}, status: 400, has: []string{"destructive"}},
		{name: "is_registered", method: "GET", path: "machines/?op=is_registered&mac_address={mac}", as: asAnon, status: 200, has: []string{"true"}},
		{name: "is_registered, bad MAC", method: "GET", path: "machines/?op=is_registered&mac_address=zz", as: asAnon, status: 400, has: []string{"mac_address"}},
		{name: "unknown op", method: "POST", path: "machines/{id}/?op=levitate", status: 400, has: []string{"Unrecognised signature", "levitate"}},
		{name: "override testing that did not fail", method: "POST", path: "machines/{id}/?op=override_failed_testing", form: url.Values{"comment": {"spare port"}},
			status: 409, has: []string{"Cannot override failed testing", "Deployed", "only a machine in Failed testing"}},
		{name: "override failed testing, not admin", method: "POST", path: "machines/{id}/?op=override_failed_testing", as: asOwner, status: 403, has: []string{"administrators only"}},
		{name: "machine network test status", method: "GET", path: "machines/{id}/", status: 200, has: []string{`"network_test_status":-1`, `"network_test_status_name":"Unknown"`}},
		{name: "machine keys upstream clients read", method: "GET", path: "machines/{id}/", status: 200, has: []string{`"constraints_by_type":{}`,
			`"enable_kernel_crash_dump":false`, `"ephemeral_deploy":false`, `"is_dpu":false`, `"parent":null`, `"virtualmachine_id":null`}},

		{name: "interfaces", method: "GET", path: "nodes/{id}/interfaces/", status: 200, has: []string{`"mac_address":"02:00:00:00:`}},
		{name: "interface update on a deployed machine", method: "PUT", path: "nodes/{id}/interfaces/{iid}/", form: url.Values{"link_connected": {"false"}}, status: 200, has: []string{`"link_connected":false`, `"link_speed":0`}},
		{name: "interface MTU on a deployed machine", method: "PUT", path: "nodes/{id}/interfaces/{iid}/", form: url.Values{"mtu": {"9000"}}, status: 400, has: []string{`"mtu"`, "deployed"}},
		{name: "interface bad speed", method: "PUT", path: "nodes/{id}/interfaces/{iid}/", form: url.Values{"link_speed": {"-1"}}, status: 400, has: []string{`"link_speed"`}},
		{name: "interface without warning or neighbours", method: "GET", path: "nodes/{id}/interfaces/{iid}/", status: 200, has: []string{`"link_speed_warning":null`, `"neighbours":[]`}},
		{name: "interface on a slow link", method: "PUT", path: "nodes/{id}/interfaces/{iid}/", form: url.Values{"link_speed": {"100"}, "interface_speed": {"1000"}},
			status: 200, has: []string{`"link_speed_warning":"Link connected to slow interface: the link runs at 100 Mbit/s, the interface can go at 1 Gbit/s."`}},
		{name: "interface disconnected, no warning", method: "PUT", path: "nodes/{id}/interfaces/{iid}/", form: url.Values{"link_connected": {"false"}, "interface_speed": {"1000"}},
			status: 200, has: []string{`"link_speed_warning":null`, `"link_speed":0`}},
		{name: "interface unknown", method: "GET", path: "nodes/{id}/interfaces/999999/", status: 404},

		{name: "results", method: "GET", path: "nodes/{id}/results/?type=commissioning", status: 200, has: []string{`"type_name":"Commissioning"`}},
		{name: "results, bad type", method: "GET", path: "nodes/{id}/results/?type=gardening", status: 400, has: []string{`"type"`}},
		{name: "results of an interface", method: "GET", path: "nodes/{id}/results/current-commissioning/?interface=eth0,{iid}", status: 200, has: []string{`"results":[]`}},
		{name: "results of an interface by MAC", method: "GET", path: "nodes/{id}/results/?interface={mac}", status: 200, has: []string{`"results":[]`}},
		{name: "current commissioning", method: "GET", path: "nodes/{id}/results/current-commissioning/", status: 200, has: []string{`"system_id":"{id}"`}},
		{name: "no current testing", method: "GET", path: "nodes/{id}/results/current-testing/", status: 404, has: []string{"testing"}},
		{name: "suppress needs a value", method: "PUT", path: "nodes/{id}/results/", status: 400, has: []string{`"suppressed"`}},
		{name: "delete the current commissioning", method: "DELETE", path: "nodes/{id}/results/current-commissioning/", status: 400, has: []string{"current commissioning"}},
		{name: "download, bad output", method: "GET", path: "nodes/{id}/results/current-commissioning/?op=download&output=everything", status: 400, has: []string{`"output"`}},

		{name: "scripts by type", method: "GET", path: "scripts/?type=testing", status: 200, has: []string{`"name":"smartctl-validate"`}},
		{name: "script read", method: "GET", path: "scripts/{script}", status: 200, has: []string{`"name":"{script}"`}},
		{name: "script download", method: "GET", path: "scripts/{script}?op=download", status: 200, has: []string{"echo hi"}},
		{name: "script add tag", method: "POST", path: "scripts/{script}?op=add_tag", form: url.Values{"tag": {"burn-in"}}, status: 200, has: []string{"burn-in"}},
		{name: "script create without a shebang", method: "POST", path: "scripts/", form: url.Values{"name": {"noshebang"}, "script": {"echo hi"}}, status: 400, has: []string{"shebang"}},
		{name: "script unknown", method: "GET", path: "scripts/nosuch", status: 404},

		{name: "events of a machine", method: "GET", path: "events/?op=query&id={id}", status: 200, has: []string{`"node":"{id}"`}},
		{name: "events, bad level", method: "GET", path: "events/?op=query&level=LOUD", status: 400, has: []string{`"level"`}},
		{name: "events, bad limit", method: "GET", path: "events/?op=query&limit=1001", status: 400, has: []string{`"limit"`}},

		{name: "config", method: "GET", path: "maas/?op=get_config&name=node_timeout", status: 200, has: []string{"30"}},
		{name: "config, hyphenated", method: "POST", path: "maas/?op=set_config", form: url.Values{"name": {"node-timeout"}, "value": {"30"}}, status: 200, has: []string{"OK"}},
		{name: "config, unknown", method: "GET", path: "maas/?op=get_config&name=colour", status: 400, has: []string{`"name"`, "colour"}},
		{name: "unknown endpoint", method: "GET", path: "nothing-here/", status: 404, has: []string{"Unknown API endpoint"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			as := c.as
			if as == "" {
				as = asAdmin
			}
			vals, creds := w.target(t, 20000+i, as)
			n := 20000 + i
			rep := strings.NewReplacer("{id}", vals["system_id"], "{iid}", vals["id"], "{script}", vals["name"],
				"{user}", vals["username"], "{host}", fmt.Sprintf("m%d", n), "{mac}", fmt.Sprintf("02:00:00:00:%02x:%02x", n>>8, n&0xff))
			var body io.Reader
			if c.form != nil {
				f := url.Values{}
				for k, vs := range c.form {
					for _, v := range vs {
						f.Add(k, rep.Replace(v))
					}
				}
				body = strings.NewReader(f.Encode())
			}
			req, _ := http.NewRequest(c.method, w.srv.URL+"/MAAS/api/2.0/"+rep.Replace(c.path), body)
			if body != nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			if creds != nil {
				req.Header.Set("Authorization", creds.AuthorizationHeader(time.Now()))
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status {
				t.Fatalf("%s %s: %d %s; want %d", c.method, c.path, resp.StatusCode, b, c.status)
			}
			if c.exact != "" && strings.TrimSpace(string(b)) != c.exact {
				t.Errorf("%s %s: body %.400s; want %s", c.method, c.path, b, c.exact)
			}
			for _, want := range c.has {
				if want = rep.Replace(want); !strings.Contains(string(b), want) {
					t.Errorf("%s %s: body %.400s; want it to hold %q", c.method, c.path, b, want)
				}
			}
		})
	}
}
