package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// evilTar is a scripts tar with a member that would escape the scripts directory.
func evilTar(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range []struct{ name, body string }{
		{"testing/t-never", "#!/bin/sh\ntrue\n"},
		{"../../etc/evil", "x"},
		{"index.json", `{"1.0": {"testing_scripts": []}}`},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o755, Size: int64(len(m.body))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(m.body))
	}
	tw.Close()
	return buf.Bytes()
}

// TestRefusedTarCLI: run exits non-zero after telling the region why it refused the tar.
func TestRefusedTarCLI(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-never", wire.ScriptTypeTesting, "", "true")})
	f.ServeTar(evilTar(t))
	out, err := execCLI(t, append([]string{"run"}, append(connArgs(f), t.TempDir())...)...)
	if !errors.Is(err, agent.ErrScriptsRefused) || !strings.Contains(out, `Refused the scripts from the region: scripts tar: extract "../../etc/evil"`) {
		t.Errorf("run: %v; want the refusal on the console and as the error", err)
	}
	if st := f.NodeStatus(t); st != wire.NodeFailedCommissioning {
		t.Errorf("node %s; want failed", st.Label())
	}
}

// TestRefusedTarAgainstRegion puts a proxy between the agent binary and the real region that
// answers the scripts tar with a malicious one: the region fails the machine at once, with
// the reason, and the agent exits non-zero.
func TestRefusedTarAgainstRegion(t *testing.T) {
	r := regiontest.Start(t, storetest.SQLite(t))
	m := readyMachine(t, r, "refuser")
	m.offer(t, script("t-never", "", "true"))
	target, err := url.Parse(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	evil := evilTar(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.URL.Path, "/maas-scripts") {
			w.Header().Set("Content-Type", "application/x-tar")
			w.Write(evil)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	defer srv.Close()
	tok := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	creds := filepath.Join(t.TempDir(), "creds.yaml")
	os.WriteFile(creds, []byte(fmt.Sprintf("datasource:\n  MAAS:\n    metadata_url: %s%s/metadata/\n    consumer_key: %s\n    token_key: %s\n    token_secret: %s\n",
		srv.URL, target.Path, tok["consumer_key"], tok["token_key"], tok["token_secret"])), 0o600)
	m.creds = creds
	storage := t.TempDir()
	out, code := m.run(t, storage)
	t.Logf("agent:\n%s", out)
	if code == 0 {
		t.Errorf("the agent exited 0 after refusing the tar")
	}
	if _, err := os.Stat(filepath.Join(storage, "..", "..", "etc", "evil")); err == nil {
		t.Errorf("the escaping member was written")
	}
	mach := r.Client().Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", nil).(map[string]any)
	if mach["status_name"] != "Failed testing" || !strings.Contains(fmt.Sprint(mach["error_description"]), `extract "../../etc/evil": unsafe archive member`) {
		t.Errorf("machine %v, error %q; want Failed testing with the reason", mach["status_name"], mach["error_description"])
	}
}
