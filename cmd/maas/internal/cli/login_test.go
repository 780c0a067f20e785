package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/cmd/maas/internal/profile"
)

func TestLogin(t *testing.T) {
	f := newFakeRegion(t)
	for _, tc := range []struct {
		name     string
		args     []string
		stdin    string
		secret   string // typed at the prompt (stdin a terminal)
		whoami   int
		descType string
		code     int
		stderr   string
		creds    string // stored key; "-" for anonymous
	}{
		{name: "key argument", args: []string{testKey}, code: 0, creds: testKey},
		{name: "key from stdin", args: []string{"-"}, stdin: testKey + "\nignored\n", code: 0, creds: testKey},
		{name: "key from stdin with spaces", args: []string{"-"}, stdin: "  " + testKey + "\r\n", code: 0, creds: testKey},
		{name: "key piped without argument", stdin: testKey, code: 0, creds: testKey},
		{name: "key typed at the prompt", secret: testKey, code: 0, creds: testKey},
		{name: "empty key is anonymous", stdin: "\n", code: 0, creds: "-"},
		{name: "rejected key", args: []string{"ck:tk:wrong"}, code: 1, stderr: "maas: the MAAS server rejected your API key\n"},
		{name: "rejected key from stdin", args: []string{"-"}, stdin: "ck:tk:wrong\n", code: 1, stderr: "maas: the MAAS server rejected your API key\n"},
		{name: "malformed key", args: []string{"ck:tk"}, code: 2, stderr: "maas: invalid API key: malformed credentials"},
		{name: "whoami fails", args: []string{testKey}, whoami: 500, code: 1,
			stderr: "maas: the MAAS server gave an unexpected response to users/?op=whoami: 500 Internal Server Error\n"},
		{name: "describe not json", args: []string{testKey}, descType: "text/html", code: 1,
			stderr: `maas: fetch the API description: expected application/json, got "text/html"` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.whoami, f.descType = http.StatusOK, "application/json"
			if tc.whoami != 0 {
				f.whoami = tc.whoami
			}
			if tc.descType != "" {
				f.descType = tc.descType
			}
			e := newTestEnv(t)
			e.Stdin = strings.NewReader(tc.stdin)
			var prompt bool
			if tc.secret != "" {
				e.StdinTTY = true
				e.ReadSecret = func() (string, error) { prompt = true; return tc.secret, nil }
			}
			stdout, stderr, code := e.run(append([]string{"login", "p1", f.URL + "/MAAS"}, tc.args...)...)
			if code != tc.code || !strings.HasPrefix(stderr, tc.stderr) || (tc.stderr == "" && stderr != "" && !prompt) {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr, tc.code, tc.stderr)
			}
			if tc.secret != "" && (!prompt || !strings.Contains(stderr, "API key (leave empty for anonymous access): ")) {
				t.Errorf("no prompt: stderr %q", stderr)
			}
			st := &profile.Store{Dir: e.ProfileDir}
			p, err := st.Load("p1")
			if tc.code != 0 {
				if err == nil {
					t.Errorf("a failed login saved the profile")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout, "You are now logged in to the MAAS server at "+f.URL+"/MAAS/api/2.0/ with the profile name 'p1'.") {
				t.Errorf("stdout %q", stdout)
			}
			if p.URL != f.URL+"/MAAS/api/2.0/" {
				t.Errorf("stored URL %s", p.URL)
			}
			got := "-"
			if p.Credentials != nil {
				got = *p.Credentials
			}
			if got != tc.creds {
				t.Errorf("stored key %q; want %q", got, tc.creds)
			}
			var stored, served bytes.Buffer
			json.Compact(&stored, p.Description)
			json.Compact(&served, f.desc)
			if !bytes.Equal(stored.Bytes(), served.Bytes()) {
				t.Errorf("stored description differs from describe/")
			}
			fi, err := os.Stat(filepath.Join(e.ProfileDir, "p1.json"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("profile file mode %v, %v; want 0600", fi.Mode().Perm(), err)
			}
		})
	}
}

func TestProfileCommands(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	e.Stdin = strings.NewReader("\n")
	if _, stderr, code := e.run("login", "guest", f.URL+"/MAAS/api/2.0"); code != 0 {
		t.Fatalf("anonymous login: %s", stderr)
	}
	stdout, _, code := e.run("list")
	want := "admin " + f.URL + "/MAAS/api/2.0/ " + testKey + "\nguest " + f.URL + "/MAAS/api/2.0/\n"
	if code != 0 || stdout != want {
		t.Errorf("list = %q; want %q", stdout, want)
	}

	// An anonymous profile offers the anonymous handlers only, and does not sign.
	stdout, _, _ = e.run("guest", "--help")
	if strings.Contains(stdout, "node-script") || !strings.Contains(stdout, "machines") {
		t.Errorf("anonymous profile's resources:\n%s", stdout)
	}
	stdout, _, _ = e.run("guest", "machines", "--help")
	if !strings.Contains(stdout, "accept") || !strings.Contains(stdout, "is-registered") || strings.Contains(stdout, "allocate") {
		t.Errorf("anonymous machines actions:\n%s", stdout)
	}
	f.takeRequests()
	if _, stderr, code := e.run("guest", "machines", "is-registered", "mac_address=00:16:3e:df:35:bb"); code != 0 {
		t.Errorf("anonymous call: %s", stderr)
	}
	if r := f.takeRequests(); len(r) != 1 || r[0].Signed || r[0].Query != "op=is_registered&mac_address=00%3A16%3A3e%3Adf%3A35%3Abb" {
		t.Errorf("anonymous request %+v", r)
	}

	// refresh fetches describe/ again for every profile.
	f.mu.Lock()
	f.desc = bytes.Replace(f.desc, []byte(`"hash": "abc123"`), []byte(`"hash": "def456"`), 1)
	f.mu.Unlock()
	if _, stderr, code := e.run("refresh"); code != 0 {
		t.Fatalf("refresh: %s", stderr)
	}
	st := &profile.Store{Dir: e.ProfileDir}
	for _, n := range []string{"admin", "guest"} {
		p, err := st.Load(n)
		if err != nil || !bytes.Contains(p.Description, []byte("def456")) {
			t.Errorf("%s not refreshed: %v", n, err)
		}
	}
	if _, stderr, code := e.run("refresh", "nobody"); code != 2 || !strings.Contains(stderr, `no profile named "nobody"`) {
		t.Errorf("refresh nobody: exit %d, %q", code, stderr)
	}

	// logout forgets the profile and its command.
	if _, stderr, code := e.run("logout", "guest"); code != 0 {
		t.Fatalf("logout: %s", stderr)
	}
	if stdout, _, _ := e.run("list"); strings.Contains(stdout, "guest") {
		t.Errorf("list after logout: %q", stdout)
	}
	if _, stderr, code := e.run("guest", "machines", "read"); code != 2 || !strings.Contains(stderr, `unknown command or profile "guest"`) {
		t.Errorf("logged-out profile: exit %d, %q", code, stderr)
	}

	// A damaged profile file breaks that profile only.
	if err := os.WriteFile(filepath.Join(e.ProfileDir, "broken.json"), []byte(`{"name": "broken", "url": `), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := e.run("broken", "machines", "read"); code != 1 || !strings.Contains(stderr, "profile broken is unusable (log in again)") {
		t.Errorf("broken profile: exit %d, %q", code, stderr)
	}
	if _, stderr, code := e.run("admin", "machines", "read"); code != 0 {
		t.Errorf("admin beside a broken profile: %s", stderr)
	}
	if stdout, stderr, _ := e.run("list"); !strings.Contains(stdout, "admin") || !strings.Contains(stderr, "broken") {
		t.Errorf("list beside a broken profile: %q, %q", stdout, stderr)
	}
}

// TestEndpointHost: requests go to the profile's host, not to the host named in the
// description's "uri" fields.
func TestEndpointHost(t *testing.T) {
	f := newFakeRegion(t)
	e := newTestEnv(t)
	e.login(t, f, "admin")
	if _, stderr, code := e.run("admin", "machines", "read"); code != 0 {
		t.Fatalf("machines read (uri names http://elsewhere:5240): %s", stderr)
	}
}
