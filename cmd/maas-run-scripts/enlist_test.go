package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/collectors"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

func TestEnlistBase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", "http://10.0.0.2:5240/MAAS"},
		{"https://region/prefix/MAAS/metadata/latest/", "https://region/prefix/MAAS"},
		{"http://region/elsewhere/", ""},
	} {
		got, err := enlistBase(tc.in)
		if got != tc.want || (tc.want == "") != (err != nil) {
			t.Errorf("enlistBase(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// enlistRun runs the real agent with a config that names the region and no token, as the
// ephemeral environment of a machine the region does not know has it.
func enlistRun(t *testing.T, r *regiontest.Region, root string, config []byte) (out string, code int, cfg, storage string) {
	t.Helper()
	cfg = filepath.Join(t.TempDir(), "creds.yaml")
	if err := os.WriteFile(cfg, config, 0o600); err != nil {
		t.Fatal(err)
	}
	storage = t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := agentCmd(t, "run", "--config", cfg, "--machine-root", root, "--give-up-after", "10s", storage)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	b, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("agent: %v\n%s", err, b)
	}
	return string(b), code, cfg, storage
}

// TestEnlistmentAgainstRegion: a machine the region does not know runs the agent with only
// the region's URL; it runs the enlistment scripts, enlists itself, reports them with the
// token of its preseed and ends New, with its MACs. With the setting off it is refused and
// nothing is created.
func TestEnlistmentAgainstRegion(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	root, err := filepath.Abs("../../testdata/machines/two-socket-server/root")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			r := regiontest.Start(t, e, "--agent-dir", agentDir)
			admin := r.Client()
			// Only the BMC script: the full built-in set would configure this machine's links.
			admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"enlist_commissioning"}, "value": {"false"}})

			// The enlistment user data the region serves anonymously: the agent, run with the
			// config it writes (the region's URL, no token).
			resp, err := http.Get(r.URL + "/metadata/enlist/latest/user-data")
			if err != nil {
				t.Fatal(err)
			}
			ud, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, creds, ok := strings.Cut(string(ud), "<<'CREDS'\n")
			creds, _, ok2 := strings.Cut(creds, "\nCREDS\n")
			if resp.StatusCode != 200 || !strings.HasPrefix(string(ud), "#!/bin/sh") || !ok || !ok2 {
				t.Fatalf("enlistment user data: %d\n%s", resp.StatusCode, ud)
			}
			c, err := agent.ParseConfig([]byte(creds))
			if err != nil || c.MetadataURL != r.URL+"/metadata/" || c.TokenSecret != "" {
				t.Fatalf("the enlistment user data's config %+v, %v:\n%s", c, err, creds)
			}

			out, code, cfg, storage := enlistRun(t, r, root, []byte(creds))
			if code != 0 || !strings.Contains(out, "Enlisted as machine") || !strings.Contains(out, "held signals sent") {
				t.Fatalf("enlistment run exited %d:\n%s", code, out)
			}
			ms := admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any)
			if len(ms) != 1 {
				t.Fatalf("%d machines after enlisting; want 1", len(ms))
			}
			m := ms[0].(map[string]any)
			id := m["system_id"].(string)
			if m["status_name"] != "New" || m["owner"] != nil || m["architecture"] != "amd64/generic" {
				t.Errorf("enlisted machine: %v, owner %v, %v; want New, no owner, amd64/generic", m["status_name"], m["owner"], m["architecture"])
			}
			want, err := collectors.PhysicalMACs(collectors.NewFS(collectors.RootsAt(root), nil))
			if err != nil || len(want) == 0 {
				t.Fatalf("the fixture's MACs: %v %v", want, err)
			}
			var got []string
			for _, x := range m["interface_set"].([]any) {
				got = append(got, x.(map[string]any)["mac_address"].(string))
			}
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("the enlisted machine's MACs %v; want the fixture's %v", got, want)
			}
			set := admin.Must(t, 200, "GET", "api/2.0/nodes/"+id+"/results/current-commissioning/", nil).(map[string]any)
			rs := set["results"].([]any)
			if len(rs) != 1 || rs[0].(map[string]any)["name"] != "30-maas-01-bmc-config" || rs[0].(map[string]any)["status_name"] != "Passed" {
				t.Errorf("commissioning results of the enlisted machine: %v", rs)
			}
			// Its credentials are kept where the runner looks for them, and over the config.
			for _, p := range []string{filepath.Join(storage, "creds.yaml"), cfg} {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				c, err := agent.ParseConfig(b)
				if err != nil || c.TokenSecret == "" {
					t.Errorf("%s holds no token: %v\n%s", p, err, b)
				}
				if fi, _ := os.Stat(p); fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s is readable by others: %v", p, fi.Mode())
				}
			}

			// Turned off: the anonymous download is refused, nothing is created.
			admin.Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"enable_anonymous_enlistment"}, "value": {"false"}})
			out, code, _, _ = enlistRun(t, r, root, []byte(creds))
			if code == 0 || !strings.Contains(out, "enable_anonymous_enlistment") {
				t.Errorf("enlisting while it is off exited %d:\n%s", code, out)
			}
			if n := len(admin.Must(t, 200, "GET", "api/2.0/machines/", nil).([]any)); n != 1 {
				t.Errorf("%d machines after a refused enlistment; want 1", n)
			}
		})
	}
}
