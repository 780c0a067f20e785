package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"maasgo/client"
	"maasgo/internal/tlstest"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestLoadTLS checks serve's TLS flags: files read at start with errors that name them, the
// CA machines get (--tls-ca, else a self-signed chain's root, else none), and SIGHUP's reload
// that keeps the previous certificate when the new files are bad.
func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := tlstest.NewCA(t, "region CA"), tlstest.NewCA(t, "another CA")
	issued := ca.Issue(t, "127.0.0.1")
	self := tlstest.SelfSigned(t, "127.0.0.1")
	expired := ca.IssueValid(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour), "127.0.0.1")
	w := func(name string, data []byte) string { return tlstest.Write(t, dir, name, data) }
	cert, key := w("cert.pem", issued.CertPEM), w("key.pem", issued.KeyPEM)
	selfCert, selfKey := w("self.pem", self.CertPEM), w("self.key", self.KeyPEM)
	caFile, otherCA := w("ca.pem", ca.PEM), w("other.pem", other.PEM)
	chain := w("chain.pem", append(append([]byte{}, issued.CertPEM...), ca.PEM...))
	missing := filepath.Join(dir, "missing.pem")

	if st, err := loadTLS(tlsOpts{}); st != nil || err != nil || st.serving() || st.machineCA() != "" || st.scheme() != "http" {
		t.Errorf("no flags: %v %v", st, err)
	}
	for _, tc := range []struct {
		name string
		o    tlsOpts
		want string
	}{
		{"a certificate without its key", tlsOpts{cert: cert}, "--tls-cert and --tls-key go together"},
		{"a key without its certificate", tlsOpts{key: key}, "--tls-cert and --tls-key go together"},
		{"a missing certificate", tlsOpts{cert: missing, key: key}, "read --tls-cert: open " + missing},
		{"a missing key", tlsOpts{cert: cert, key: missing}, "read --tls-key: open " + missing},
		{"a key for the certificate", tlsOpts{cert: key, key: key}, "--tls-cert " + key + ": no PEM certificates"},
		{"a certificate for the key", tlsOpts{cert: cert, key: cert}, "--tls-cert " + cert + " with --tls-key " + cert},
		{"another key", tlsOpts{cert: cert, key: selfKey}, "--tls-cert " + cert + " with --tls-key " + selfKey + ": tls: private key does not match public key"},
		{"an expired certificate", tlsOpts{cert: w("expired.pem", expired.CertPEM), key: w("expired.key", expired.KeyPEM)}, "is valid from"},
		{"a missing CA", tlsOpts{cert: cert, key: key, ca: missing}, "read --tls-ca: open " + missing},
		{"a CA that is a key", tlsOpts{cert: cert, key: key, ca: key}, "--tls-ca " + key + ": no PEM certificates"},
		{"a CA that did not sign the certificate", tlsOpts{cert: cert, key: key, ca: otherCA}, "--tls-ca " + otherCA + " does not vouch for --tls-cert " + cert},
	} {
		if _, err := loadTLS(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.name, err, tc.want)
		}
	}

	for _, tc := range []struct {
		name   string
		o      tlsOpts
		wantCA []byte
	}{
		{"--tls-ca", tlsOpts{cert: cert, key: key, ca: caFile}, ca.PEM},
		{"a self-signed certificate", tlsOpts{cert: selfCert, key: selfKey}, self.CertPEM},
		{"a chain ending with its root", tlsOpts{cert: chain, key: key}, ca.PEM},
		{"a chain ending below a root machines are expected to know", tlsOpts{cert: cert, key: key}, nil},
		{"--tls-ca alone, for a region behind a TLS proxy", tlsOpts{ca: caFile}, ca.PEM},
	} {
		st, err := loadTLS(tc.o)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if st.machineCA() != string(tc.wantCA) {
			t.Errorf("%s: machines get %q; want %q", tc.name, st.machineCA(), tc.wantCA)
		}
		if st.serving() != (tc.o.cert != "") || (st.scheme() == "https") != (tc.o.cert != "") {
			t.Errorf("%s: serving %v", tc.name, st.serving())
		}
	}
	// The region's URL must be a name the certificate holds; its key, private.
	st, _ := loadTLS(tlsOpts{cert: cert, key: key, ca: caFile})
	if ws := st.warnings("https://127.0.0.1:5443/MAAS"); len(ws) != 0 {
		t.Errorf("warnings for a good setup: %q", ws)
	}
	os.Chmod(key, 0o644)
	ws := strings.Join(st.warnings("https://region.example:5443/MAAS"), "\n")
	if !strings.Contains(ws, "does not name the host") || !strings.Contains(ws, "can be read by other users") {
		t.Errorf("warnings: %s", ws)
	}

	// SIGHUP: new files are served; bad ones leave the previous certificate.
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	before := st.fingerprint()
	os.WriteFile(cert, self.CertPEM, 0o600)
	os.WriteFile(key, self.KeyPEM, 0o600)
	os.WriteFile(caFile, self.CertPEM, 0o600)
	st.reload(log)
	if st.fingerprint() == before || st.fingerprint() != client.Fingerprint(self.Cert.Raw) || st.machineCA() != string(self.CertPEM) {
		t.Errorf("reload: %s; want %s", st.fingerprint(), client.Fingerprint(self.Cert.Raw))
	}
	os.WriteFile(key, []byte("garbage"), 0o600)
	st.reload(log)
	if st.fingerprint() != client.Fingerprint(self.Cert.Raw) || !strings.Contains(logs.String(), "still serving the previous certificate") {
		t.Errorf("a bad reload replaced the certificate: %s\n%s", st.fingerprint(), logs.String())
	}
}

// TestServeHTTPS runs the real region with --tls-cert: it serves HTTPS only (TLS 1.2 at
// least) at an https:// URL, hands machines its CA in the launcher and the user data, and
// the launcher's download checks the region's certificate against it. SIGHUP serves a new
// certificate without a restart.
func TestServeHTTPS(t *testing.T) {
	agentDir, sum := regiontest.AgentDir(t)
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "region CA")
	leaf := ca.Issue(t, "127.0.0.1")
	cert, key := tlstest.Write(t, dir, "cert.pem", leaf.CertPEM), tlstest.Write(t, dir, "key.pem", leaf.KeyPEM)
	caFile := tlstest.Write(t, dir, "ca.pem", ca.PEM)
	tc, err := client.Trust{CA: string(ca.PEM)}.Config()
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.SQLite(t)
	r := regiontest.StartTLS(t, e, tc, "127.0.0.1:0", "--agent-dir", agentDir, "--tls-cert", cert, "--tls-key", key, "--tls-ca", caFile)
	if !strings.HasPrefix(r.URL, "https://127.0.0.1:") {
		t.Fatalf("the region's URL is %s; want https://", r.URL)
	}
	admin := r.Client()
	admin.Must(t, 200, "GET", "api/2.0/users/", url.Values{"op": {"whoami"}})

	// Plain HTTP on the TLS port gets no API; TLS 1.1 gets no handshake; a client that
	// does not know the CA refuses the region.
	u, _ := url.Parse(r.URL)
	if resp, err := http.Get("http://" + u.Host + "/MAAS/api/2.0/version/"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || strings.Contains(string(body), "version") {
			t.Errorf("plain HTTP: %d %s", resp.StatusCode, body)
		}
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.RootCAs, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(r.URL + "/api/2.0/version/"); err == nil {
		t.Error("TLS 1.1 was accepted")
	}
	if _, err := http.Get(r.URL + "/api/2.0/version/"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a client without the CA: %v", err)
	}

	// The launcher carries the CA and downloads the agent checking the certificate with it.
	l := admin.Do(t, "GET", "maas-run-scripts", nil)
	if l.Status != 200 || !strings.Contains(string(l.Body), string(ca.PEM)) || !strings.Contains(string(l.Body), "MAAS_URL='"+r.URL+"'") {
		t.Fatalf("launcher: %d %s", l.Status, l.Body)
	}
	work := t.TempDir()
	launcher := filepath.Join(work, "maas-run-scripts")
	os.WriteFile(launcher, l.Body, 0o755)
	out, err := exec.Command(launcher, "machine-resources", "--root", "../../testdata/machines/qemu-1g/root").Output()
	if err != nil || !bytes.Contains(out, []byte(`"api_version"`)) {
		t.Fatalf("launcher over HTTPS: %v %.300s", err, out)
	}
	// One that names another CA refuses the region, and leaves neither binary nor CA file.
	forged := strings.Replace(string(l.Body), string(ca.PEM), string(tlstest.NewCA(t, "another CA").PEM), 1)
	work2 := t.TempDir()
	os.WriteFile(filepath.Join(work2, "maas-run-scripts"), []byte(forged), 0o755)
	cmd := exec.Command(filepath.Join(work2, "maas-run-scripts"), "--help")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "cannot download "+r.URL+"/maas-run-scripts/") {
		t.Errorf("launcher with another CA: %v %s", err, stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(work2, ".maas-run-scripts-*")); len(left) != 0 {
		t.Errorf("the refused download left %q", left)
	}

	// The commissioning user data of a machine carries the CA for curl and the agent.
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"tls"}, "architecture": {"amd64"}}).(map[string]any)
	id := m["system_id"].(string)
	tok := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	mc := &regiontest.Client{HTTP: r.HTTPClient(), Creds: wire.Credentials{ConsumerKey: tok["consumer_key"].(string),
		TokenKey: tok["token_key"].(string), TokenSecret: tok["token_secret"].(string)}}
	req, _ := http.NewRequest("GET", r.URL+"/metadata/latest/user-data", nil)
	ud := mc.Send(t, req)
	for _, want := range []string{sum, `--cacert "$CA_FILE"`, "metadata_url: '" + r.URL + "/metadata/'", "    tls_ca: |\n      -----BEGIN CERTIFICATE-----"} {
		if !strings.Contains(string(ud.Body), want) {
			t.Errorf("user data lacks %q:\n%s", want, ud.Body)
		}
	}

	// maas-region user-data renders the same for machines booted by other means.
	regionCmd := func(args ...string) (string, error) {
		args = append(args, "--state-dir", e.StateDir, "--agent-dir", agentDir)
		out, err := exec.Command(regiontest.Build(t, "maasgo/cmd/maas-region"), args...).CombinedOutput()
		return string(out), err
	}
	if out, err := regionCmd("user-data", id, "--tls-ca", caFile); err != nil || !strings.Contains(out, `--cacert "$CA_FILE"`) ||
		!strings.Contains(out, string(ca.PEM)) || !strings.Contains(out, r.URL+"/metadata/") {
		t.Errorf("maas-region user-data --tls-ca: %v\n%s", err, out)
	}
	if out, err := regionCmd("user-data", id, "--tls-ca", key); err == nil || !strings.Contains(out, "--tls-ca "+key+": the region's CA: no PEM certificates") {
		t.Errorf("maas-region user-data with a key for --tls-ca: %v\n%s", err, out)
	}

	// SIGHUP: the region serves the new certificate, and machines get the new CA.
	ca2 := tlstest.NewCA(t, "next region CA")
	leaf2 := ca2.Issue(t, "127.0.0.1")
	os.WriteFile(cert, leaf2.CertPEM, 0o600)
	os.WriteFile(key, leaf2.KeyPEM, 0o600)
	os.WriteFile(caFile, ca2.PEM, 0o600)
	syscall.Kill(r.Pid(), syscall.SIGHUP)
	tc2, _ := client.Trust{CA: string(ca2.PEM)}.Config()
	next := client.NewHTTPClient(client.Options{TLS: tc2})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := next.Get(r.URL + "/maas-run-scripts")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), string(ca2.PEM)) {
				t.Errorf("after SIGHUP the launcher has not the new CA")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the region does not serve the new certificate after SIGHUP: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeSelfSigned: without --tls-ca, a region whose certificate signed itself hands
// machines that certificate, and curl in the launcher trusts the region with it.
func TestServeSelfSigned(t *testing.T) {
	agentDir, _ := regiontest.AgentDir(t)
	dir := t.TempDir()
	self := tlstest.SelfSigned(t, "127.0.0.1")
	cert, key := tlstest.Write(t, dir, "cert.pem", self.CertPEM), tlstest.Write(t, dir, "key.pem", self.KeyPEM)
	tc, err := client.Trust{Fingerprint: client.Fingerprint(self.Cert.Raw)}.Config()
	if err != nil {
		t.Fatal(err)
	}
	r := regiontest.StartTLS(t, storetest.SQLite(t), tc, "127.0.0.1:0", "--agent-dir", agentDir, "--tls-cert", cert, "--tls-key", key)
	l := r.Client().Do(t, "GET", "maas-run-scripts", nil)
	if l.Status != 200 || !strings.Contains(string(l.Body), string(self.CertPEM)) {
		t.Fatalf("launcher: %d %s", l.Status, l.Body)
	}
	launcher := filepath.Join(t.TempDir(), "maas-run-scripts")
	os.WriteFile(launcher, l.Body, 0o755)
	cmd := exec.Command(launcher, "machine-resources", "--root", "../../testdata/machines/qemu-1g/root")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if out, err := cmd.Output(); err != nil || !bytes.Contains(out, []byte(`"api_version"`)) {
		t.Fatalf("launcher with the self-signed certificate: %v %s", err, stderr.String())
	}
	// wget, when curl is missing, checks the certificate the same way.
	noCurl := t.TempDir()
	for _, d := range []string{"/usr/bin", "/bin"} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "curl" {
				os.Symlink(filepath.Join(d, e.Name()), filepath.Join(noCurl, e.Name()))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(noCurl, "wget")); err != nil {
		t.Skip("no wget")
	}
	for _, tc := range []struct {
		name, script string
		ok           bool
	}{
		{"the region's certificate", string(l.Body), true},
		{"another certificate", strings.Replace(string(l.Body), string(self.CertPEM), string(tlstest.SelfSigned(t, "127.0.0.1").CertPEM), 1), false},
	} {
		launcher := filepath.Join(t.TempDir(), "maas-run-scripts")
		os.WriteFile(launcher, []byte(tc.script), 0o755)
		cmd := exec.Command(launcher, "--help")
		cmd.Env = append(os.Environ(), "PATH="+noCurl)
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok || (!tc.ok && !strings.Contains(string(out), "cannot download")) {
			t.Errorf("wget with %s: %v\n%s", tc.name, err, out)
		}
	}
	if !strings.Contains(r.Logs(), "serving HTTPS") || !strings.Contains(r.Logs(), client.Fingerprint(self.Cert.Raw)) {
		t.Errorf("the region does not log its certificate's fingerprint:\n%s", r.Logs())
	}
}
