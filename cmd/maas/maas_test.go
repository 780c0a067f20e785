// Integration tests of the maas binary against the real region. Run them without make:
//
//	go test ./cmd/maas/                    # SQLite
//	MAAS_TEST_POSTGRES_URL=postgres://user:pass@host/db go test ./cmd/maas/   # and PostgreSQL
//
// go test -short skips them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// runner runs the built maas binary with its own HOME and XDG_CONFIG_HOME.
type runner struct {
	t      *testing.T
	bin    string
	home   string
	config string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	home := t.TempDir()
	return &runner{t: t, bin: regiontest.Build(t, "maasgo/cmd/maas"), home: home, config: filepath.Join(home, "config")}
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *runner) runIn(stdin string, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "XDG_CONFIG_HOME=" + c.config}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run maas %q: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func (c *runner) run(args ...string) result {
	c.t.Helper()
	return c.runIn("", args...)
}

// ok runs a command that must succeed and returns its standard output.
func (c *runner) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("maas %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs a command that must succeed and decodes its output.
func (c *runner) okJSON(v any, args ...string) {
	c.t.Helper()
	out := c.ok(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("maas %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must fail with an HTTP error: exit status 2, the region's
// message on stdout and "HTTP <code>: <reason>" alone on stderr.
func (c *runner) fails(code int, reason, stdoutHas string, args ...string) {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 2 || r.stderr != "HTTP "+strconv.Itoa(code)+": "+reason+"\n" || !strings.Contains(r.stdout, stdoutHas) {
		c.t.Errorf("maas %s: exit %d, stdout %q, stderr %q; want 2, stdout with %q, stderr %q",
			strings.Join(args, " "), r.code, r.stdout, r.stderr, stdoutHas, "HTTP "+strconv.Itoa(code)+": "+reason+"\n")
	}
}

// TestAgainstRegion drives the maas binary against the real region on every database
// engine, following the user guide's commands.
func TestAgainstRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the region")
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e)
			c := newRunner(t)
			key := r.Admin.String()
			t.Run("login", func(t *testing.T) { testLogin(t, c, r.URL, key) })
			t.Run("seed", func(t *testing.T) { testSeed(t, c) })
		})
	}
}

func testLogin(t *testing.T, c *runner, url, key string) {
	profiles := filepath.Join(c.config, "maas", "profiles")
	bad := c.run("login", "bad", url, "aaaaaaaaaaaaaaaaaa:bbbbbbbbbbbbbbbbbb:cccccccccccccccccccccccccccccccc")
	if bad.code != 1 || bad.stderr != "maas: the MAAS server rejected your API key\n" {
		t.Errorf("bad key: exit %d, stderr %q", bad.code, bad.stderr)
	}
	if _, err := os.Stat(filepath.Join(profiles, "bad.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected key was saved: %v", err)
	}
	out := c.ok("login", "admin", url, key)
	if !strings.Contains(out, "You are now logged in to the MAAS server at "+url+"/api/2.0/ with the profile name 'admin'.") {
		t.Errorf("login said %q", out)
	}
	fi, err := os.Stat(filepath.Join(profiles, "admin.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("profile file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if r := c.runIn(key+"\n", "login", "piped", url+"/", "-"); r.code != 0 {
		t.Fatalf("login with the key on stdin: exit %d: %s", r.code, r.stderr)
	}
	want := "admin " + url + "/api/2.0/ " + key + "\npiped " + url + "/api/2.0/ " + key + "\n"
	if got := c.ok("list"); got != want {
		t.Errorf("list = %q; want %q", got, want)
	}
	// refresh fetches describe/ again: a damaged description is repaired.
	b, _ := os.ReadFile(filepath.Join(profiles, "piped.json"))
	var p map[string]any
	json.Unmarshal(b, &p)
	p["description"] = map[string]any{"resources": []any{}}
	b, _ = json.Marshal(p)
	os.WriteFile(filepath.Join(profiles, "piped.json"), b, 0o600)
	if r := c.run("piped", "machines", "read"); r.code != 2 || !strings.Contains(r.stderr, `unknown resource "machines"`) {
		t.Errorf("profile without resources: exit %d, %q", r.code, r.stderr)
	}
	c.ok("refresh")
	c.ok("piped", "machines", "read")
	c.ok("logout", "piped")
	if got := c.ok("list"); got != "admin "+url+"/api/2.0/ "+key+"\n" {
		t.Errorf("list after logout = %q", got)
	}
	if _, err := os.Stat(filepath.Join(profiles, "piped.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("logout left the profile: %v", err)
	}
}

type machine struct {
	SystemID     string `json:"system_id"`
	Hostname     string `json:"hostname"`
	StatusName   string `json:"status_name"`
	Architecture string `json:"architecture"`
	PowerType    string `json:"power_type"`
	Owner        string `json:"owner"`
	InstallKVM   *bool  `json:"install_kvm"`
}

type iface struct {
	ID             int    `json:"id"`
	Name           string `json:"name"`
	MAC            string `json:"mac_address"`
	LinkConnected  bool   `json:"link_connected"`
	LinkSpeed      int    `json:"link_speed"`
	InterfaceSpeed int    `json:"interface_speed"`
}

func testSeed(t *testing.T, c *runner) {
	// "maas $profile machines create deployed=true hostname=mymachine architecture=amd64
	// mac_addresses=00:16:3e:df:35:bb power_type=manual", word for word.
	var m machine
	c.okJSON(&m, "admin", "machines", "create", "deployed=true", "hostname=mymachine", "architecture=amd64",
		"mac_addresses=00:16:3e:df:35:bb", "power_type=manual")
	if m.Hostname != "mymachine" || m.StatusName != "Deployed" || m.Architecture != "amd64/generic" || m.PowerType != "manual" || m.Owner != "admin" {
		t.Errorf("created machine %+v", m)
	}
	id := m.SystemID

	// maas $PROFILE machines read | jq '.[] | .hostname, .system_id'
	var ms []map[string]json.RawMessage
	c.okJSON(&ms, "admin", "machines", "read")
	var jq []string
	for _, m := range ms {
		jq = append(jq, string(m["hostname"]), string(m["system_id"]))
	}
	if got, want := strings.Join(jq, "\n"), `"mymachine"`+"\n"+`"`+id+`"`; got != want {
		t.Errorf("machines read | jq = %s; want %s", got, want)
	}

	var tok map[string]string
	c.okJSON(&tok, "admin", "machine", "get-token", id)
	if tok["token_key"] == "" || tok["token_secret"] == "" || tok["consumer_key"] == "" || len(tok) != 3 {
		t.Errorf("get-token = %v", tok)
	}

	var ifs []iface
	c.okJSON(&ifs, "admin", "interfaces", "read", id)
	if len(ifs) != 1 || ifs[0].MAC != "00:16:3e:df:35:bb" {
		t.Fatalf("interfaces read = %+v", ifs)
	}
	ifID := strconv.Itoa(ifs[0].ID)
	var i iface
	c.okJSON(&i, "admin", "interface", "update", id, ifID, "link_connected=true")
	if !i.LinkConnected {
		t.Errorf("link_connected=true gave %+v", i)
	}
	c.okJSON(&i, "admin", "interface", "update", id, ifID, "link_speed=1000", "interface_speed=10000")
	if i.LinkSpeed != 1000 || i.InterfaceSpeed != 10000 {
		t.Errorf("speeds gave %+v", i)
	}

	c.fails(400, "Bad Request", `"link_speed"`, "admin", "interface", "update", id, ifID, "link_speed=fast")

	// Release it, then allocate and deploy it as the guide does.
	c.okJSON(&m, "admin", "machine", "release", id)
	if m.StatusName != "Ready" {
		t.Fatalf("release: %+v", m)
	}
	c.okJSON(&m, "admin", "machines", "allocate", "system_id="+id)
	if m.StatusName != "Allocated" || m.SystemID != id {
		t.Errorf("allocate: %+v", m)
	}
	c.fails(409, "Conflict", "", "admin", "machines", "allocate")
	c.okJSON(&m, "admin", "machine", "deploy", id, "install_kvm=True")
	if m.StatusName != "Deploying" {
		t.Errorf("deploy: %+v", m)
	}
	// maas $PROFILE machine override-failed-testing $SYSTEM_ID: only a machine whose tests
	// failed can be overridden.
	c.fails(409, "Conflict", "Cannot override failed testing of mymachine: the machine is Deploying",
		"admin", "machine", "override-failed-testing", id, "comment=cable replaced")

	// maas $PROFILE maas set-config name=node-timeout value=$NUMBER_OF_MINUTES
	if out := c.ok("admin", "maas", "set-config", "name=node-timeout", "value=45"); out != "OK" {
		t.Errorf("set-config printed %q", out)
	}
	if out := c.ok("admin", "maas", "get-config", "name=node_timeout"); out != "45" {
		t.Errorf("get-config node_timeout = %q; want 45", out)
	}

	c.fails(404, "Not Found", "No machine with system ID nosuch", "admin", "machine", "read", "nosuch")
	c.fails(400, "Bad Request", `"name"`, "admin", "maas", "set-config", "name=no_such_setting", "value=1")
	c.fails(409, "Conflict", "Cannot update interface eth0", "admin", "interface", "update", id, ifID, "link_speed=10")
}
