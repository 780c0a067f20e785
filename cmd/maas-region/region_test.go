package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dghubble/oauth1"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestRegion drives the real maas-region binary over HTTP on every database engine.
func TestRegion(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			bob := newUser(t, r, "bob", false)
			t.Run("auth", func(t *testing.T) { testAuth(t, r, bob) })
			t.Run("machines", func(t *testing.T) { testMachines(t, r, bob) })
			t.Run("interfaces", func(t *testing.T) { testInterfaces(t, r) })
			t.Run("config", func(t *testing.T) { testConfig(t, r) })
			t.Run("malformed", func(t *testing.T) { testMalformed(t, r) })
			t.Run("describe", func(t *testing.T) { testDescribe(t, r) })
			t.Run("restart", func(t *testing.T) {
				// State survives a restart; the admin key printed again is the same one.
				admin := r.Admin
				r.Restart()
				if r.Admin != admin {
					t.Errorf("admin key changed across restart")
				}
				ms := r.Client().Must(t, 200, "GET", "api/2.0/machines/", nil).([]any)
				if len(ms) == 0 {
					t.Errorf("machines lost across restart")
				}
			})
		})
	}
}

// newUser creates a user through the API and an API key for it with `maas-region apikey`.
func newUser(t *testing.T, r *regiontest.Region, name string, admin bool) wire.Credentials {
	t.Helper()
	r.Client().Must(t, 200, "POST", "api/2.0/users/", url.Values{"username": {name}, "email": {name + "@example.com"},
		"is_superuser": {fmt.Sprint(admin)}, "password": {"x"}})
	args := []string{"apikey", "--username", name, "--generate", "--state-dir", r.Engine.StateDir}
	if r.Engine.DSN != "" {
		args = append(args, "--database", r.Engine.DSN)
	}
	out, err := exec.Command(regiontest.Build(t, "maasgo/cmd/maas-region"), args...).Output()
	if err != nil {
		t.Fatalf("maas-region apikey: %v", err)
	}
	c, err := wire.ParseCredentials(string(out))
	if err != nil {
		t.Fatalf("apikey printed %q: %v", out, err)
	}
	return c
}

func plaintextHeader(c wire.Credentials, secret string, ts int64, nonce string) string {
	return fmt.Sprintf(`OAuth oauth_nonce="%s", oauth_timestamp="%d", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="%s", oauth_token="%s", oauth_signature="%%26%s"`,
		nonce, ts, c.ConsumerKey, c.TokenKey, url.PathEscape(secret))
}

func rawGet(t *testing.T, u, authz string) *regiontest.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	return (&regiontest.Client{}).Send(t, req)
}

func testAuth(t *testing.T, r *regiontest.Region, bob wire.Credentials) {
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"authbox"}, "deployed": {"true"}, "architecture": {"amd64"}}).(map[string]any)
	other := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"authother"}, "deployed": {"true"}}).(map[string]any)
	tok := admin.Must(t, 200, "GET", "api/2.0/machines/"+m["system_id"].(string)+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	machine := wire.Credentials{ConsumerKey: tok["consumer_key"].(string), TokenKey: tok["token_key"].(string), TokenSecret: tok["token_secret"].(string)}
	whoami := r.URL + "/api/2.0/users/?op=whoami"
	now := time.Now().Unix()

	hmacClient := func(c wire.Credentials) *http.Client {
		return oauth1.NewConfig(c.ConsumerKey, "").Client(context.Background(), oauth1.NewToken(c.TokenKey, c.TokenSecret))
	}
	replayed := plaintextHeader(r.Admin, r.Admin.TokenSecret, now, "replay-me-1")

	for _, tc := range []struct {
		name     string
		do       func() *regiontest.Response
		want     int
		contains string
	}{
		{name: "valid PLAINTEXT", want: 200, contains: `"username":"admin"`, do: func() *regiontest.Response {
			return rawGet(t, whoami, plaintextHeader(r.Admin, r.Admin.TokenSecret, now, "n-plain"))
		}},
		{name: "valid PLAINTEXT in the query string", want: 200, contains: `"username":"admin"`, do: func() *regiontest.Response {
			q := url.Values{"oauth_consumer_key": {r.Admin.ConsumerKey}, "oauth_token": {r.Admin.TokenKey},
				"oauth_signature_method": {"PLAINTEXT"}, "oauth_signature": {"&" + r.Admin.TokenSecret},
				"oauth_timestamp": {fmt.Sprint(now)}, "oauth_nonce": {"n-query"}}
			return rawGet(t, whoami+"&"+q.Encode(), "")
		}},
		{name: "valid HMAC-SHA1 GET (signed by dghubble/oauth1)", want: 200, contains: `"username":"bob"`, do: func() *regiontest.Response {
			return send(t, hmacClient(bob), "GET", whoami, nil)
		}},
		{name: "valid HMAC-SHA1 POST form (signed by dghubble/oauth1)", want: 200, contains: `"status":10`, do: func() *regiontest.Response {
			admin.Must(t, 200, "POST", "api/2.0/machines/"+other["system_id"].(string)+"/", url.Values{"op": {"release"}})
			return send(t, hmacClient(bob), "POST", r.URL+"/api/2.0/machines/?op=allocate", url.Values{"system_id": {other["system_id"].(string)}})
		}},
		{name: "wrong secret", want: 401, contains: "Invalid signature", do: func() *regiontest.Response {
			return rawGet(t, whoami, plaintextHeader(r.Admin, "not-the-secret", now, "n-wrong"))
		}},
		{name: "wrong secret HMAC-SHA1", want: 401, contains: "Invalid signature", do: func() *regiontest.Response {
			c := r.Admin
			c.TokenSecret = "not-the-secret"
			return send(t, hmacClient(c), "GET", whoami, nil)
		}},
		{name: "unknown token", want: 401, contains: "Invalid access token", do: func() *regiontest.Response {
			c := r.Admin
			c.TokenKey = "NoSuchTokenKey0000"
			return rawGet(t, whoami, plaintextHeader(c, c.TokenSecret, now, "n-unknown"))
		}},
		{name: "expired timestamp", want: 401, contains: "Expired timestamp", do: func() *regiontest.Response {
			return rawGet(t, whoami, plaintextHeader(r.Admin, r.Admin.TokenSecret, now-1000, "n-old"))
		}},
		{name: "timestamp from the future", want: 401, contains: "Expired timestamp", do: func() *regiontest.Response {
			return rawGet(t, whoami, plaintextHeader(r.Admin, r.Admin.TokenSecret, now+1000, "n-future"))
		}},
		{name: "first use of a nonce", want: 200, do: func() *regiontest.Response { return rawGet(t, whoami, replayed) }},
		{name: "replayed nonce", want: 401, contains: "Nonce already used", do: func() *regiontest.Response { return rawGet(t, whoami, replayed) }},
		{name: "missing oauth parameters", want: 401, contains: "oauth_nonce", do: func() *regiontest.Response {
			return rawGet(t, whoami, `OAuth oauth_consumer_key="x", oauth_token="y"`)
		}},
		{name: "no credentials on a user action", want: 401, contains: "Authentication required", do: func() *regiontest.Response {
			return rawGet(t, r.URL+"/api/2.0/machines/", "")
		}},
		{name: "machine token on another machine", want: 403, contains: "Machine tokens", do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: machine}).Do(t, "GET", "api/2.0/machines/"+other["system_id"].(string)+"/", nil)
		}},
		{name: "machine token on its own machine's API object", want: 403, contains: "Machine tokens", do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: machine}).Do(t, "GET", "api/2.0/machines/"+m["system_id"].(string)+"/", nil)
		}},
		{name: "machine token on the admin API", want: 403, do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: machine}).Do(t, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"node_timeout"}, "value": {"5"}})
		}},
		{name: "non-admin set_config", want: 403, contains: "administrators only", do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: bob}).Do(t, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"node_timeout"}, "value": {"5"}})
		}},
		{name: "non-admin get_token", want: 403, do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: bob}).Do(t, "GET", "api/2.0/machines/"+m["system_id"].(string)+"/", url.Values{"op": {"get_token"}})
		}},
		{name: "non-admin machine create", want: 403, do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: bob}).Do(t, "POST", "api/2.0/machines/", url.Values{"hostname": {"bobs"}, "deployed": {"true"}})
		}},
		{name: "non-admin delete", want: 403, do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: bob}).Do(t, "DELETE", "api/2.0/machines/"+m["system_id"].(string)+"/", nil)
		}},
		{name: "non-admin read", want: 200, do: func() *regiontest.Response {
			return (&regiontest.Client{Base: r.URL, Creds: bob}).Do(t, "GET", "api/2.0/machines/", nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.do()
			if resp.Status != tc.want || !strings.Contains(string(resp.Body), tc.contains) {
				t.Fatalf("status %d body %q; want %d containing %q", resp.Status, resp.Body, tc.want, tc.contains)
			}
			if resp.Status == 401 || resp.Status == 403 {
				if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
					t.Errorf("%d without a usable Date header: %q", resp.Status, resp.Header.Get("Date"))
				}
			}
			if resp.Status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The machines made here are not needed by the other subtests.
	for _, mm := range []map[string]any{m, other} {
		admin.Must(t, 204, "DELETE", "api/2.0/machines/"+mm["system_id"].(string)+"/", nil)
	}
}

func send(t *testing.T, c *http.Client, method, u string, form url.Values) *regiontest.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &regiontest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func status(t *testing.T, m any) float64 {
	t.Helper()
	return m.(map[string]any)["status"].(float64)
}

func testMachines(t *testing.T, r *regiontest.Region, bob wire.Credentials) {
	admin := r.Client()
	bc := &regiontest.Client{Base: r.URL, Creds: bob}

	// The seed's deployed machine.
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"mymachine"},
		"architecture": {"amd64"}, "mac_addresses": {"00:16:3e:df:35:bb"}, "power_type": {"manual"}}).(map[string]any)
	id := m["system_id"].(string)
	if m["status"] != 6.0 || m["status_name"] != "Deployed" || m["owner"] != "admin" || m["architecture"] != "amd64/generic" ||
		m["fqdn"] != "mymachine.maas" || m["power_type"] != "manual" {
		t.Errorf("deployed machine: status %v %v owner %v arch %v fqdn %v", m["status"], m["status_name"], m["owner"], m["architecture"], m["fqdn"])
	}
	ifs := m["interface_set"].([]any)
	if len(ifs) != 1 || ifs[0].(map[string]any)["mac_address"] != "00:16:3e:df:35:bb" || m["boot_interface"] == nil {
		t.Errorf("interfaces: %v", ifs)
	}
	if uri := m["resource_uri"]; uri != "/MAAS/api/2.0/machines/"+id+"/" {
		t.Errorf("resource_uri %v", uri)
	}
	checkSeedKeys(t, m)

	resp := admin.Do(t, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"mymachine"}})
	if resp.Status != 400 || !strings.Contains(string(resp.Body), `"hostname"`) {
		t.Errorf("duplicate hostname: %d %s", resp.Status, resp.Body)
	}
	resp = admin.Do(t, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"dup-mac"}, "mac_addresses": {"00:16:3E:DF:35:BB"}})
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "already in use on mymachine") {
		t.Errorf("duplicate MAC: %d %s", resp.Status, resp.Body)
	}
	// A bad second MAC leaves nothing behind.
	before := len(admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any))
	resp = admin.Do(t, "POST", "api/2.0/machines/", url.Values{"hostname": {"halfway"}, "architecture": {"amd64"},
		"mac_addresses": {"52:54:00:00:00:10", "not-a-mac"}})
	if resp.Status != 400 || !strings.Contains(string(resp.Body), "mac_addresses") {
		t.Errorf("bad MAC: %d %s", resp.Status, resp.Body)
	}
	if after := len(admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any)); after != before {
		t.Errorf("a refused create left a machine behind: %d → %d", before, after)
	}
	resp = admin.Do(t, "POST", "api/2.0/machines/", url.Values{"hostname": {"noarch"}, "mac_addresses": {"52:54:00:00:00:11"}})
	if resp.Status != 400 || !strings.Contains(string(resp.Body), `"architecture"`) {
		t.Errorf("missing architecture: %d %s", resp.Status, resp.Body)
	}

	// Reading and filtering.
	list := admin.Must(t, 200, "GET", "api/2.0/machines/", url.Values{"hostname": {"mymachine"}}).([]any)
	if len(list) != 1 || list[0].(map[string]any)["system_id"] != id {
		t.Errorf("filter by hostname: %v", list)
	}
	if l := admin.Must(t, 200, "GET", "api/2.0/machines/", url.Values{"status": {"deployed"}}).([]any); len(l) != 1 {
		t.Errorf("filter by status: %d machines", len(l))
	}
	if resp := admin.Do(t, "GET", "api/2.0/machines/", url.Values{"status": {"sleeping"}}); resp.Status != 400 {
		t.Errorf("unknown status filter: %d", resp.Status)
	}
	if resp := admin.Do(t, "GET", "api/2.0/machines/nosuch/", nil); resp.Status != 404 || !strings.Contains(string(resp.Body), "nosuch") {
		t.Errorf("unknown machine: %d %s", resp.Status, resp.Body)
	}

	tok := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	if len(tok["consumer_key"].(string)) != 18 || len(tok["token_key"].(string)) != 18 || len(tok["token_secret"].(string)) != 32 {
		t.Errorf("token: %v", tok)
	}

	// Release the deployed machine, allocate it (random), deploy, release; then by system id.
	if st := status(t, admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})); st != 4 {
		t.Fatalf("release: status %v", st)
	}
	a := bc.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"op": {"allocate"}}).(map[string]any)
	if a["system_id"] != id || a["status"] != 10.0 || a["owner"] != "bob" {
		t.Errorf("allocate: %v %v %v", a["system_id"], a["status"], a["owner"])
	}
	if resp := bc.Do(t, "POST", "api/2.0/machines/", url.Values{"op": {"allocate"}}); resp.Status != 409 || !strings.Contains(string(resp.Body), "No machine available") {
		t.Errorf("allocate with none ready: %d %s", resp.Status, resp.Body)
	}
	// As upstream, only administrators deploy VM hosts.
	if resp := bc.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}, "install_kvm": {"True"}}); resp.Status != 403 || !strings.Contains(string(resp.Body), "install_kvm") {
		t.Errorf("bob deploys a VM host: %d %s", resp.Status, resp.Body)
	}
	d := bc.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}}).(map[string]any)
	if d["status"] != 9.0 || d["install_kvm"] != false || d["osystem"] != "ubuntu" || d["distro_series"] == "" {
		t.Errorf("deploy: status %v kvm %v os %v/%v", d["status"], d["install_kvm"], d["osystem"], d["distro_series"])
	}
	if resp := bc.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}}); resp.Status != 409 || !strings.Contains(string(resp.Body), "Deploying") {
		t.Errorf("deploy twice: %d %s", resp.Status, resp.Body)
	}
	if resp := bc.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}, "user_data": {"%%%"}}); resp.Status != 400 {
		t.Errorf("bad user_data: %d %s", resp.Status, resp.Body)
	}
	if st := status(t, bc.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})); st != 4 {
		t.Errorf("release: status %v", st)
	}
	a = admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"op": {"allocate"}, "system_id": {id}}).(map[string]any)
	if a["system_id"] != id || a["owner"] != "admin" {
		t.Errorf("allocate by system_id: %v", a["system_id"])
	}
	if resp := bc.Do(t, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"deploy"}}); resp.Status != 403 {
		t.Errorf("bob deploys admin's machine: %d %s", resp.Status, resp.Body)
	}
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})

	// New machines: commission=false stays New; the default starts commissioning.
	n := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"architecture": {"arm64"}, "mac_addresses": {"52:54:00:00:00:20,52:54:00:00:00:21"}, "commission": {"false"}}).(map[string]any)
	if n["status"] != 0.0 || n["architecture"] != "arm64/generic" || len(n["interface_set"].([]any)) != 2 || n["hostname"] == "" {
		t.Errorf("new machine: status %v arch %v hostname %v", n["status"], n["architecture"], n["hostname"])
	}
	c := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"architecture": {"amd64"}, "mac_addresses": {"52:54:00:00:00:30"}}).(map[string]any)
	if c["status"] != 1.0 || c["status_name"] != "Commissioning" {
		t.Errorf("admin-created machine: status %v", c["status"])
	}
	registered := admin.Must(t, 200, "GET", "api/2.0/machines/", url.Values{"op": {"is_registered"}, "mac_address": {"52:54:00:00:00:30"}})
	if registered != true {
		t.Errorf("is_registered = %v", registered)
	}
	for _, x := range []map[string]any{n, c} {
		resp := admin.Do(t, "DELETE", "api/2.0/machines/"+x["system_id"].(string)+"/", nil)
		if resp.Status != 204 || resp.Header.Get("Content-Type") == "" {
			t.Errorf("delete: %d, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
		}
		if resp := admin.Do(t, "GET", "api/2.0/machines/"+x["system_id"].(string)+"/", nil); resp.Status != 404 {
			t.Errorf("deleted machine still there: %d", resp.Status)
		}
	}
}

// checkSeedKeys compares a machine's JSON with the user guide's sample: every key, same JSON
// type (or null).
func checkSeedKeys(t *testing.T, m map[string]any) {
	t.Helper()
	b, err := os.ReadFile("../../testdata/seed/machine.json")
	if err != nil {
		t.Fatal(err)
	}
	var seed map[string]any
	if err := json.Unmarshal(b, &seed); err != nil {
		t.Fatal(err)
	}
	for k, sv := range seed {
		v, ok := m[k]
		if !ok {
			t.Errorf("machine JSON lacks %q", k)
			continue
		}
		if v != nil && sv != nil && fmt.Sprintf("%T", v) != fmt.Sprintf("%T", sv) {
			t.Errorf("machine JSON %q is %T (%v); the seed has %T", k, v, v, sv)
		}
	}
}

func testInterfaces(t *testing.T, r *regiontest.Region) {
	admin := r.Client()
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"deployed": {"true"}, "hostname": {"ifbox"}, "mac_addresses": {"52:54:00:15:36:f2"}}).(map[string]any)
	id := m["system_id"].(string)
	ifs := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/interfaces/", nil).([]any)
	if len(ifs) != 1 {
		t.Fatalf("interfaces: %v", ifs)
	}
	i := ifs[0].(map[string]any)
	iid := fmt.Sprint(i["id"])
	if i["resource_uri"] != "/MAAS/api/2.0/nodes/"+id+"/interfaces/"+iid+"/" || i["link_connected"] != true || i["type"] != "physical" {
		t.Errorf("interface: %v", i)
	}
	path := "api/2.0/nodes/" + id + "/interfaces/" + iid + "/"
	u := admin.Must(t, 200, "PUT", path, url.Values{"link_connected": {"false"}}).(map[string]any)
	if u["link_connected"] != false || u["link_speed"] != 0.0 {
		t.Errorf("disconnect: %v", u)
	}
	if resp := admin.Do(t, "PUT", path, url.Values{"link_speed": {"1000"}}); resp.Status != 400 || !strings.Contains(string(resp.Body), "link_speed cannot be set when link_connected is false.") {
		t.Errorf("speed while disconnected: %d %s", resp.Status, resp.Body)
	}
	u = admin.Must(t, 200, "PUT", path, url.Values{"link_connected": {"true"}, "link_speed": {"1000"}, "interface_speed": {"10000"}}).(map[string]any)
	if u["link_connected"] != true || u["link_speed"] != 1000.0 || u["interface_speed"] != 10000.0 {
		t.Errorf("reconnect: %v", u)
	}
	if resp := admin.Do(t, "PUT", path, url.Values{"link_speed": {"-5"}}); resp.Status != 400 {
		t.Errorf("negative speed: %d %s", resp.Status, resp.Body)
	}
	if resp := admin.Do(t, "PUT", path, url.Values{"mtu": {"9000"}}); resp.Status != 400 || !strings.Contains(string(resp.Body), "mtu") {
		t.Errorf("mtu on a deployed machine: %d %s", resp.Status, resp.Body)
	}
	if got := admin.Must(t, 200, "GET", path, nil).(map[string]any); got["interface_speed"] != 10000.0 {
		t.Errorf("read back: %v", got)
	}
	if resp := admin.Do(t, "GET", "api/2.0/nodes/"+id+"/interfaces/999999/", nil); resp.Status != 404 {
		t.Errorf("unknown interface: %d", resp.Status)
	}
	admin.Must(t, 204, "DELETE", "api/2.0/machines/"+id+"/", nil)
}

func testConfig(t *testing.T, r *regiontest.Region) {
	admin := r.Client()
	if v := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"get_config"}, "name": {"node_timeout"}}); v != 30.0 {
		t.Errorf("default node_timeout = %v", v)
	}
	if v := admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"node-timeout"}, "value": {"45"}}); v != "OK" {
		t.Errorf("set_config answered %v", v)
	}
	for _, name := range []string{"node_timeout", "node-timeout"} {
		if v := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"get_config"}, "name": {name}}); v != 45.0 {
			t.Errorf("get_config %s = %v", name, v)
		}
	}
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"name": {"node_timeout"}, "value": {"soon"}}, "value"},
		{url.Values{"name": {"node_timeout"}, "value": {"0"}}, "value"},
		{url.Values{"name": {"node_timeout"}}, "value"},
		{url.Values{"name": {"no_such_setting"}, "value": {"1"}}, "name"},
		{url.Values{"value": {"1"}}, "name"},
	} {
		tc.form.Set("op", "set_config")
		resp := admin.Do(t, "POST", "api/2.0/maas/", tc.form)
		var errs map[string]any
		if resp.Status != 400 || json.Unmarshal(resp.Body, &errs) != nil || errs[tc.field] == nil {
			t.Errorf("set_config %v: %d %s; want 400 naming %s", tc.form, resp.Status, resp.Body, tc.field)
		}
	}
	if v := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"get_config"}, "name": {"node_timeout"}}); v != 45.0 {
		t.Errorf("refused sets changed node_timeout to %v", v)
	}
	if v := admin.Must(t, 200, "GET", "api/2.0/maas/", url.Values{"op": {"get_config"}, "name": {"max_node_testing_results"}}); v != 10.0 {
		t.Errorf("max_node_testing_results = %v", v)
	}
}

// cliMultipart builds a body the way the upstream maas CLI does: a quoted boundary and every
// part base64-encoded (protocol.md §3.2).
func cliMultipart(fields map[string]string) (string, []byte) {
	boundary := "===============1478949357404612128=="
	var b bytes.Buffer
	for k, v := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\n\r\n",
			boundary, k, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return `multipart/form-data; boundary="` + boundary + `"`, b.Bytes()
}

func testMalformed(t *testing.T, r *regiontest.Region) {
	admin := r.Client()
	post := func(ct string, body []byte) *regiontest.Response {
		req, _ := http.NewRequest("POST", r.URL+"/api/2.0/machines/", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		return admin.Send(t, req)
	}
	ct, body := cliMultipart(map[string]string{"hostname": "clibox", "deployed": "true"})
	if resp := post(ct, body); resp.Status != 200 || !strings.Contains(string(resp.Body), `"hostname":"clibox"`) {
		t.Errorf("upstream CLI multipart: %d %s", resp.Status, resp.Body)
	}
	for _, tc := range []struct {
		name, ct string
		body     []byte
		want     int
	}{
		{"truncated multipart", "multipart/form-data; boundary=XYZ", []byte("--XYZ\r\nContent-Disposition: form-data; name=\"hostname\"\r\n\r\nhalf"), 400},
		{"multipart without boundary", "multipart/form-data", []byte("--XYZ\r\n"), 400},
		{"bad base64 part", ct, bytes.Replace(body, []byte("Y2xpYm94"), []byte("!!!!"), 1), 400},
		{"unsupported content type", "application/json", []byte(`{"hostname":"x"}`), 400},
		{"malformed urlencoded", "application/x-www-form-urlencoded", []byte("hostname=%zz"), 400},
	} {
		if resp := post(tc.ct, tc.body); resp.Status != tc.want {
			t.Errorf("%s: %d %s; want %d", tc.name, resp.Status, resp.Body, tc.want)
		}
	}
	if resp := admin.Do(t, "GET", "api/2.0/machines/", url.Values{"op": {"frobnicate"}}); resp.Status != 400 || string(resp.Body) != "Unrecognised signature: method=GET op=frobnicate" {
		t.Errorf("unknown op: %d %s", resp.Status, resp.Body)
	}
	if resp := admin.Do(t, "GET", "api/2.0/nothing-here/", nil); resp.Status != 404 {
		t.Errorf("unknown endpoint: %d", resp.Status)
	}
	// Op from the path suffix, as upstream's dispatcher allows.
	if v := admin.Must(t, 200, "GET", "api/2.0/users/op-whoami", nil).(map[string]any); v["username"] != "admin" {
		t.Errorf("op-whoami: %v", v)
	}
	// A body over --max-body is refused before anything is parsed.
	small := regiontest.Start(t, storetest.SQLite(t), "--max-body", "2048")
	resp := small.Client().Do(t, "POST", "api/2.0/machines/", url.Values{"hostname": {"big"}, "description": {strings.Repeat("x", 4096)}})
	if resp.Status != 413 {
		t.Errorf("oversized body: %d %s", resp.Status, resp.Body)
	}
	if l := small.Client().Must(t, 200, "GET", "api/2.0/machines/", nil).([]any); len(l) != 0 {
		t.Errorf("oversized create stored %d machines", len(l))
	}
}

func testDescribe(t *testing.T, r *regiontest.Region) {
	resp := rawGet(t, r.URL+"/api/2.0/describe/", "")
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("describe: %d, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var d struct {
		Doc       string                       `json:"doc"`
		Hash      string                       `json:"hash"`
		Resources []map[string]json.RawMessage `json:"resources"`
		Handlers  []struct {
			Name, Doc, Path, URI string
			Params               []string
			Actions              []struct {
				Name, Method, Doc string
				Op                *string
				Restful           bool
			}
		} `json:"handlers"`
	}
	if err := json.Unmarshal(resp.Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Doc != "MAAS API" || d.Hash == "" || len(d.Resources) != len(d.Handlers) {
		t.Errorf("describe header: doc %q hash %q %d resources %d handlers", d.Doc, d.Hash, len(d.Resources), len(d.Handlers))
	}
	for _, res := range d.Resources {
		for _, k := range []string{"name", "anon", "auth"} {
			if _, ok := res[k]; !ok {
				t.Errorf("resource %s lacks %q", res["name"], k)
			}
		}
	}
	want := map[string]bool{"MachinesHandler allocate": false, "MachineHandler get_token": false, "MachineHandler deploy": false,
		"MaasHandler set_config": false, "UsersHandler whoami": false, "InterfaceHandler update": false}
	for _, h := range d.Handlers {
		if !strings.HasPrefix(h.Path, "/MAAS/api/2.0/") || h.URI != strings.TrimSuffix(r.URL, "/MAAS")+h.Path || h.Params == nil {
			t.Errorf("handler %s: path %q uri %q params %v", h.Name, h.Path, h.URI, h.Params)
		}
		for _, a := range h.Actions {
			want[h.Name+" "+a.Name] = true
			if a.Restful != (a.Op == nil) {
				t.Errorf("%s %s: restful %v with op %v", h.Name, a.Name, a.Restful, a.Op)
			}
			if strings.Contains(a.Doc, ":param") && !strings.Contains(a.Doc, "\n\n:param ") {
				t.Errorf("%s %s: params not after a blank line: %q", h.Name, a.Name, a.Doc)
			}
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("describe lacks %s", k)
		}
	}
}
