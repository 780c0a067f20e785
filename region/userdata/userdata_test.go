package userdata

import (
	"os/exec"
	"strings"
	"testing"

	"maasgo/region/store"
	"maasgo/wire"
)

// The rendered scripts are valid shell, and shellcheck-clean where shellcheck is installed.
func TestScriptsAreValidShell(t *testing.T) {
	sums := map[string]string{"amd64": strings.Repeat("a", 64), "arm64": strings.Repeat("b", 64)}
	tok := &store.Token{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}
	commissioning, err := Commissioning(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", Status: wire.NodeCommissioning},
		Token: tok, URL: "http://10.0.0.2:5240/MAAS", Agent: Agent{Sums: sums}})
	if err != nil {
		t.Fatal(err)
	}
	launcher, err := Launcher("http://10.0.0.2:5240/MAAS", sums)
	if err != nil {
		t.Fatal(err)
	}
	for name, script := range map[string][]byte{"commissioning": commissioning, "launcher": launcher} {
		if !strings.Contains(string(script), "amd64) echo "+sums["amd64"]) {
			t.Errorf("%s lacks the amd64 sum", name)
		}
		if out, err := exec.Command("sh", "-n", "-c", string(script)).CombinedOutput(); err != nil {
			t.Errorf("%s is not valid sh: %v\n%s", name, err, out)
		}
		if _, err := exec.LookPath("shellcheck"); err == nil {
			cmd := exec.Command("shellcheck", "-s", "sh", "-")
			cmd.Stdin = strings.NewReader(string(script))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", name, err, out)
			}
		}
	}
	if _, err := Launcher("http://x/'; rm -rf /", sums); err == nil {
		t.Error("a URL that breaks the quoting was accepted")
	}
	deploy, err := Deploy(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", UserData: []byte("#!/bin/sh\necho mine\n")}, Token: tok, URL: "http://r/MAAS"})
	if err != nil || !strings.Contains(string(deploy), "multipart/mixed") || !strings.Contains(string(deploy), "text/x-shellscript") ||
		!strings.Contains(string(deploy), "text/cloud-config") {
		t.Errorf("deploy user data with the user's own: %v\n%s", err, deploy)
	}
}
