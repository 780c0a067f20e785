package userdata

import (
	"os/exec"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"maasgo/internal/tlstest"
	"maasgo/region/store"
	"maasgo/wire"
)

// With the region's CA, every script that talks to the region checks its certificate
// against it: curl --cacert, wget --ca-certificate, and the agent's creds.yaml carries it.
func TestScriptsWithCA(t *testing.T) {
	ca := tlstest.NewCA(t, "region CA")
	// Text around the PEM block is dropped: only the certificate reaches the scripts.
	dirty := "junk'$(reboot)\nMAAS_REGION_CA\n" + string(ca.PEM) + "CREDS\n"
	agent := Agent{Sums: map[string]string{"amd64": strings.Repeat("a", 64)}, CA: dirty}
	tok := &store.Token{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}
	commissioning, err := Commissioning(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", Status: wire.NodeCommissioning},
		Token: tok, URL: "https://10.0.0.2:5443/MAAS", Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	launcher, err := Launcher("https://10.0.0.2:5443/MAAS", agent)
	if err != nil {
		t.Fatal(err)
	}
	enlist, err := Enlistment("https://10.0.0.2:5443/MAAS", agent)
	if err != nil {
		t.Fatal(err)
	}
	deploy, err := Deploy(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h"}, Token: tok, URL: "https://10.0.0.2:5443/MAAS", Agent: agent})
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string]string{"commissioning": string(commissioning), "launcher": string(launcher), "enlistment": string(enlist)} {
		for _, want := range []string{`curl -fsSL --cacert "$CA_FILE" -o`, `wget -q --ca-certificate="$CA_FILE" -O`, string(ca.PEM), `write_ca "$CA_FILE"`} {
			if !strings.Contains(script, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, script)
			}
		}
		for _, bad := range []string{"reboot", "junk", "CREDS\nCREDS"} {
			if strings.Contains(script, bad) {
				t.Errorf("%s holds %q from around the CA", name, bad)
			}
		}
		shellOK(t, name, script)
	}
	// The agent's config holds the CA under datasource: MAAS: tls_ca.
	creds := between(t, string(commissioning), "<<'CREDS'\n", "CREDS\n")
	var doc struct {
		Datasource struct {
			MAAS map[string]string `yaml:"MAAS"`
		} `yaml:"datasource"`
	}
	if err := yaml.Unmarshal([]byte(creds), &doc); err != nil || doc.Datasource.MAAS["tls_ca"] != string(ca.PEM) ||
		doc.Datasource.MAAS["metadata_url"] != "https://10.0.0.2:5443/MAAS/metadata/" {
		t.Errorf("creds.yaml: %v\n%s", err, creds)
	}
	// The deployment's report checks the certificate too.
	for _, want := range []string{`curl -fsS --cacert "$ca" -X POST`, `wget -q --ca-certificate="$ca" -O /dev/null`, string(ca.PEM)} {
		if !strings.Contains(string(deploy), want) && !strings.Contains(string(deploy), indentLines("      ", want)) {
			t.Errorf("deploy user data lacks %q:\n%s", want, deploy)
		}
	}
	var cc struct {
		RunCmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(deploy, &cc); err != nil || len(cc.RunCmd) != 1 {
		t.Fatalf("deploy cloud-config: %v", err)
	}
	shellOK(t, "deploy report", cc.RunCmd[0][2])
	if !strings.Contains(cc.RunCmd[0][2], "\n"+string(ca.PEM)+"MAAS_REGION_CA\n") {
		t.Errorf("the report's CA is not a here-document at the start of lines:\n%s", cc.RunCmd[0][2])
	}

	// Without a CA, nothing changes: the system's authorities.
	plain, _ := Launcher("https://10.0.0.2:5443/MAAS", Agent{Sums: agent.Sums})
	if strings.Contains(string(plain), "CA_FILE") || !strings.Contains(string(plain), `curl -fsSL -o "$2" "$1"`) {
		t.Errorf("launcher without a CA:\n%s", plain)
	}
	// A CA that holds no certificate is refused, not rendered.
	if _, err := Launcher("https://r/MAAS", Agent{Sums: agent.Sums, CA: "hello"}); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("bad CA: %v", err)
	}
}

func between(t *testing.T, s, from, to string) string {
	t.Helper()
	i := strings.Index(s, from)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", from, s)
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		t.Fatalf("no %q after %q", to, from)
	}
	return s[:j]
}

func shellOK(t *testing.T, name, script string) {
	t.Helper()
	if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("%s is not valid sh: %v\n%s", name, err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err == nil {
		cmd := exec.Command("shellcheck", "-s", "sh", "-")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
}
