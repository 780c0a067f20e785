package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/client"
	"maasgo/internal/tlstest"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestAgentOverHTTPS runs the real region serving HTTPS with a CA made here, and the real
// agent against it: the machine runs the user data the region serves (curl checks the
// region's certificate with the CA the user data carries, the agent with the tls_ca it
// writes into creds.yaml), downloads its scripts and posts their results over HTTPS, and
// ends Ready. The agent refuses a region whose certificate it cannot trust (no CA, another
// CA, another certificate's fingerprint) at once and says why; it trusts a pinned
// fingerprint; and --insecure works, with a warning on standard error.
func TestAgentOverHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the region, the user data and the agent as processes")
	}
	agentDir, _ := regiontest.AgentDir(t)
	dir := t.TempDir()
	ca, other := tlstest.NewCA(t, "region CA"), tlstest.NewCA(t, "another CA")
	leaf := ca.Issue(t, "127.0.0.1")
	cert, key := tlstest.Write(t, dir, "cert.pem", leaf.CertPEM), tlstest.Write(t, dir, "key.pem", leaf.KeyPEM)
	caFile := tlstest.Write(t, dir, "ca.pem", ca.PEM)
	tc, err := client.Trust{CA: string(ca.PEM)}.Config()
	if err != nil {
		t.Fatal(err)
	}
	r := regiontest.StartTLS(t, storetest.SQLite(t), tc, "127.0.0.1:0", "--agent-dir", agentDir,
		"--tls-cert", cert, "--tls-key", key, "--tls-ca", caFile)
	if !strings.HasPrefix(r.URL, "https://") {
		t.Fatalf("region URL %s", r.URL)
	}
	m := readyMachine(t, r, "tls")
	m.offer(t, script("t-tls", "", "echo secure"))
	result := func() string {
		t.Helper()
		return m.results(t, "current-testing")["t-tls"]["status_name"].(string)
	}
	retest := func() {
		t.Helper()
		r.Client().Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"test"}, "testing_scripts": {"t-tls"}})
	}

	// The machine boots and runs the user data, fetched over HTTPS.
	tok := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	mc := &regiontest.Client{HTTP: r.HTTPClient(), Creds: wire.Credentials{ConsumerKey: tok["consumer_key"].(string),
		TokenKey: tok["token_key"].(string), TokenSecret: tok["token_secret"].(string)}}
	req, _ := http.NewRequest("GET", r.URL+"/metadata/latest/user-data", nil)
	ud := mc.Send(t, req)
	if ud.Status != 200 || !strings.Contains(string(ud.Body), "--cacert") {
		t.Fatalf("user data: %d %.300s", ud.Status, ud.Body)
	}
	work := t.TempDir()
	machineTmp := filepath.Join(work, "tmp")
	os.Mkdir(machineTmp, 0o1777)
	udFile := filepath.Join(work, "user-data")
	os.WriteFile(udFile, ud.Body, 0o700)
	env := append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR="+machineTmp)
	out, err := machineShell(t, env, userDataCommand(udFile)...)
	if err != nil {
		t.Fatalf("user data over HTTPS: %v\n%s", err, out)
	}
	if st := m.status(t); st != "Ready" || result() != "Passed" || decode(t, m.results(t, "current-testing")["t-tls"]["stdout"]) != "secure\n" {
		t.Fatalf("after the user data: machine %s, t-tls %s\n%s", st, result(), out)
	}
	dirs, _ := filepath.Glob(filepath.Join(machineTmp, "user_data.sh.*"))
	if len(dirs) != 1 {
		t.Fatalf("user data directories: %q", dirs)
	}
	cfg, err := agent.LoadConfig(t.Context(), nil, filepath.Join(dirs[0], agent.CredsFileName))
	if err != nil || cfg.TLS.CA != string(ca.PEM) {
		t.Fatalf("the user data's creds.yaml: %+v %v", cfg.TLS, err)
	}

	// runAgent runs `maas-run-scripts run` with the datasource config creds and args.
	runAgent := func(t *testing.T, creds string, args ...string) (string, int, time.Duration) {
		t.Helper()
		start := time.Now()
		cmd := agentCmd(t, append(append([]string{"run", "--config", creds}, args...), t.TempDir())...)
		out, err := cmd.CombinedOutput()
		code := 0
		if err != nil {
			code = -1
			if ee, ok := err.(interface{ ExitCode() int }); ok {
				code = ee.ExitCode()
			}
		}
		return string(out), code, time.Since(start)
	}
	credsWith := func(t *testing.T, extra string) string {
		t.Helper()
		b, err := os.ReadFile(m.creds)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "creds.yaml")
		os.WriteFile(p, append(b, extra...), 0o600)
		return p
	}
	caKey := func(pem []byte) string {
		return "    tls_ca: |\n      " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n      ") + "\n"
	}
	otherLeaf := other.Issue(t, "127.0.0.1")

	retest()
	for _, tc := range []struct {
		name  string
		creds string
		args  []string
		want  []string
	}{
		{"no CA: the system's authorities", m.creds, nil, []string{"certificate signed by unknown authority"}},
		{"another CA", credsWith(t, caKey(other.PEM)), nil, []string{"certificate signed by unknown authority"}},
		{"another CA on the command line", m.creds, []string{"--tls-ca", tlstest.Write(t, t.TempDir(), "other.pem", other.PEM)},
			[]string{"certificate signed by unknown authority"}},
		{"another certificate's fingerprint", credsWith(t, caKey(ca.PEM)), []string{"--tls-fingerprint", hex.EncodeToString(otherLeaf.Fingerprint())},
			[]string{"not the pinned " + client.Fingerprint(otherLeaf.Cert.Raw), "has SHA-256 fingerprint " + client.Fingerprint(leaf.Cert.Raw)}},
		{"another certificate's fingerprint in the config", credsWith(t, "    tls_fingerprint: "+hex.EncodeToString(otherLeaf.Fingerprint())+"\n"), nil,
			[]string{"not the pinned"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, took := runAgent(t, tc.creds, tc.args...)
			if code == 0 {
				t.Fatalf("the agent trusted the region:\n%s", out)
			}
			for _, w := range append(tc.want, "refusing the region: its TLS certificate is not trusted") {
				if !strings.Contains(out, w) {
					t.Errorf("the agent's error lacks %q:\n%s", w, out)
				}
			}
			t.Logf("agent output:\n%s", out)
			if took > 30*time.Second {
				t.Errorf("refusing took %s: a certificate error is not retried", took)
			}
			if strings.Contains(out, "retrying") {
				t.Errorf("the agent retried a certificate error:\n%s", out)
			}
		})
	}
	if st := m.status(t); st != "Testing" || result() != "Pending" {
		t.Fatalf("the refused runs changed the machine: %s, t-tls %s", st, result())
	}

	// The pinned fingerprint of the region's certificate is enough, with no CA.
	out, code, _ := runAgent(t, m.creds, "--tls-fingerprint", "sha256:"+client.Fingerprint(leaf.Cert.Raw))
	if code != 0 || m.status(t) != "Ready" || result() != "Passed" {
		t.Fatalf("pinned: exit %d, machine %s, t-tls %s\n%s", code, m.status(t), result(), out)
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("a warning without --insecure:\n%s", out)
	}

	// --insecure works, and says every time what it costs.
	retest()
	out, code, _ = runAgent(t, m.creds, "--insecure")
	if code != 0 || m.status(t) != "Ready" || result() != "Passed" {
		t.Fatalf("--insecure: exit %d, machine %s, t-tls %s\n%s", code, m.status(t), result(), out)
	}
	if strings.Count(out, agent.InsecureWarning) != 1 {
		t.Errorf("--insecure printed the warning %d times; want once:\n%s", strings.Count(out, agent.InsecureWarning), out)
	}
	// and not with the checks it would skip.
	out, code, _ = runAgent(t, m.creds, "--insecure", "--tls-ca", caFile)
	if code == 0 || !strings.Contains(out, "--insecure cannot be used with --tls-ca") {
		t.Errorf("--insecure --tls-ca: %d\n%s", code, out)
	}

	// A run kept with --no-send saves the CA it was given, not --insecure: send checks the
	// region with it, and refuses one whose certificate another pin names.
	retest()
	storage := t.TempDir()
	cmd := agentCmd(t, "run", "--no-send", "--config", m.creds, "--tls-ca", caFile, storage)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run --no-send: %v\n%s", err, b)
	}
	id, err := agent.CurrentRun(storage)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := agent.LoadRun(storage, id); err != nil || info.Endpoint.TLS.CA != string(ca.PEM) || info.Endpoint.TLS.Insecure {
		t.Fatalf("the kept run's TLS: %+v %v", info.Endpoint.TLS, err)
	}
	start := time.Now()
	b, err := agentCmd(t, "send", "--tls-fingerprint", hex.EncodeToString(otherLeaf.Fingerprint()), storage).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "not the pinned") || time.Since(start) > 30*time.Second {
		t.Fatalf("send to a region another pin names: %v after %s\n%s", err, time.Since(start), b)
	}
	if b, err := agentCmd(t, "send", storage).CombinedOutput(); err != nil || m.status(t) != "Ready" || result() != "Passed" {
		t.Fatalf("send with the saved CA: %v, machine %s, t-tls %s\n%s", err, m.status(t), result(), b)
	}

	// register-machine checks the region with --tls-ca and keeps the CA in the credentials
	// file, outside reporting: maas:, where report-results finds it.
	t.Run("register-machine", func(t *testing.T) {
		work := t.TempDir()
		key := r.Admin.String()
		if _, stderr, code := agentBin(t, work, nil, "register-machine", "--hostname", "reg", "--mac", "52:54:00:00:00:09", r.URL, key); code == 0 ||
			!strings.Contains(stderr, "certificate signed by unknown authority") {
			t.Fatalf("register-machine without the CA: exit %d\n%s", code, stderr)
		}
		if _, stderr, code := agentBin(t, work, nil, "register-machine", "--tls-ca", caFile, "--hostname", "reg", "--mac", "52:54:00:00:00:09", r.URL, key); code != 0 {
			t.Fatalf("register-machine --tls-ca: exit %d\n%s", code, stderr)
		}
		b, err := os.ReadFile(filepath.Join(work, "reg-creds.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := agent.ParseCreds(b)
		if err != nil || c.TLS.CA != string(ca.PEM) || !strings.HasPrefix(c.Endpoint, r.URL+"/metadata/status/") || !strings.HasPrefix(string(b), "reporting:") {
			t.Fatalf("the credentials file: %+v %v\n%s", c, err, b)
		}
		_, stderr, code := agentBin(t, work, nil, "report-results", "--config", "reg-creds.yaml", "--storage-dir", t.TempDir(),
			"--tls-fingerprint", hex.EncodeToString(otherLeaf.Fingerprint()))
		if code == 0 || !strings.Contains(stderr, "not the pinned") {
			t.Errorf("report-results with another pin: exit %d\n%s", code, stderr)
		}
	})

	// A machine the region does not know enlists itself over HTTPS with the CA of the
	// enlistment user data, and its preseed keeps the CA with its new token.
	t.Run("enlistment", func(t *testing.T) {
		root, err := filepath.Abs("../../testdata/machines/two-socket-server/root")
		if err != nil {
			t.Fatal(err)
		}
		r.Client().Must(t, 200, "POST", "api/2.0/maas/", url.Values{"op": {"set_config"}, "name": {"enlist_commissioning"}, "value": {"false"}})
		resp, err := r.HTTPClient().Get(r.URL + "/metadata/enlist/latest/user-data")
		if err != nil {
			t.Fatal(err)
		}
		ud, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, creds, _ := strings.Cut(string(ud), "<<'CREDS'\n")
		creds, _, _ = strings.Cut(creds, "\nCREDS\n")
		if c, err := agent.ParseConfig([]byte(creds)); err != nil || c.TLS.CA != string(ca.PEM) || c.TokenSecret != "" {
			t.Fatalf("the enlistment user data's config: %+v %v\n%s", c, err, creds)
		}
		out, code, _, storage := enlistRun(t, r, root, []byte(creds))
		if code != 0 || !strings.Contains(out, "Enlisted as machine") {
			t.Fatalf("enlistment over HTTPS exited %d:\n%s", code, out)
		}
		c, err := agent.LoadConfig(t.Context(), nil, filepath.Join(storage, "creds.yaml"))
		if err != nil || c.TokenSecret == "" || c.TLS.CA != string(ca.PEM) {
			t.Errorf("the preseed kept: %+v %v", c, err)
		}
	})
}

func TestTrustFlags(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "region CA")
	caFile := tlstest.Write(t, dir, "ca.pem", ca.PEM)
	notPEM := tlstest.Write(t, dir, "key.pem", []byte("hello"))
	fp := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name string
		o    trustOpts
		want string
	}{
		{"--insecure with --tls-ca", trustOpts{insecure: true, caFile: caFile}, "--insecure cannot be used with --tls-ca or --tls-fingerprint"},
		{"--insecure with --tls-fingerprint", trustOpts{insecure: true, fingerprint: fp}, "--insecure cannot be used"},
		{"a missing CA file", trustOpts{caFile: filepath.Join(dir, "nope.pem")}, "read --tls-ca: open " + filepath.Join(dir, "nope.pem")},
		{"a CA file without certificates", trustOpts{caFile: notPEM}, "--tls-ca " + notPEM + ": no PEM certificates"},
		{"a malformed fingerprint", trustOpts{fingerprint: "abc"}, "--tls-fingerprint: TLS fingerprint \"abc\""},
	} {
		if _, err := tc.o.override(client.Trust{}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}
	saved := client.Trust{CA: "saved CA", Fingerprint: strings.Repeat("cd", 32)}
	// Flags replace what they name; the rest of the saved settings stays.
	o := trustOpts{fingerprint: fp}
	if got, err := o.override(client.Trust{CA: string(ca.PEM), Fingerprint: strings.Repeat("cd", 32)}); err != nil || got.CA != string(ca.PEM) || got.Fingerprint != fp {
		t.Errorf("--tls-fingerprint over saved settings: %+v %v", got, err)
	}
	o = trustOpts{caFile: caFile}
	if got, err := o.override(client.Trust{Fingerprint: fp}); err != nil || got.CA != string(ca.PEM) || got.Fingerprint != fp {
		t.Errorf("--tls-ca over saved settings: %+v %v", got, err)
	}
	// Saved settings that cannot be used are refused.
	if _, err := (&trustOpts{}).override(saved); err == nil {
		t.Error("a saved CA without certificates was accepted")
	}
	// --insecure replaces everything, and warns once per command.
	var stderr strings.Builder
	o = trustOpts{insecure: true, stderr: &stderr}
	got, err := o.override(saved)
	if err != nil || got != (client.Trust{Insecure: true}) {
		t.Errorf("--insecure: %+v %v", got, err)
	}
	o.override(saved)
	if stderr.String() != agent.InsecureWarning+"\n" {
		t.Errorf("warning: %q", stderr.String())
	}
	if storedTrust(got).Insecure {
		t.Error("storedTrust keeps --insecure")
	}
}
