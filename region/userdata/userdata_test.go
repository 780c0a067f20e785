package userdata

import (
	"bytes"
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
	launcher, err := Launcher("http://10.0.0.2:5240/MAAS", Agent{Sums: sums})
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
	if _, err := Launcher("http://x/'; rm -rf /", Agent{Sums: sums}); err == nil {
		t.Error("a URL that breaks the quoting was accepted")
	}
	deploy, err := Deploy(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", UserData: []byte("#!/bin/sh\necho mine\n")}, Token: tok, URL: "http://r/MAAS"})
	// The report is a script part beside theirs (cloudinit_test.go runs it through cloud-init).
	if err != nil || !strings.Contains(string(deploy), "multipart/mixed") || !strings.Contains(string(deploy), "text/x-shellscript") ||
		!strings.Contains(string(deploy), "echo mine\n") || !strings.Contains(string(deploy), `filename="`+deployScriptName+`"`) {
		t.Errorf("deploy user data with the user's own: %v\n%s", err, deploy)
	}
	for _, ud := range [][]byte{nil, []byte("#!/bin/sh\necho mine\n")} {
		b, err := Deploy(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", UserData: ud}, Token: tok, URL: "http://r/MAAS"})
		if err != nil {
			t.Fatal(err)
		}
		var report bytes.Buffer
		deployReportTmpl.Execute(&report, map[string]any{"URL": "http://r/MAAS", "SystemID": "abc123", "ConsumerKey": "CK", "TokenKey": "TK", "TokenSecret": "TS"})
		if !bytes.Contains(b, report.Bytes()) && !bytes.Contains(b, []byte(indentLines("      ", report.String()))) {
			t.Errorf("deploy user data (user's %q) lacks the report:\n%s", ud, b)
		}
		if out, err := exec.Command("sh", "-n", "-c", report.String()).CombinedOutput(); err != nil {
			t.Errorf("the report is not valid sh: %v\n%s", err, out)
		}
	}
}

// The commissioning user data leaves what the guide's debug commands need: its directory
// under ${TMPDIR:-/tmp} named user_data.sh.XXXXXX, the runner in bin/ under upstream's name,
// and the credentials in creds.yaml (mode 0600, cloud-init's datasource format), which the
// runner finds there without --config.
func TestCommissioningLeavesCredentials(t *testing.T) {
	tok := &store.Token{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}
	b, err := Commissioning(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", Status: wire.NodeCommissioning},
		Token: tok, URL: "http://10.0.0.2:5240/MAAS/", Agent: Agent{Sums: map[string]string{"amd64": strings.Repeat("a", 64)}}})
	if err != nil {
		t.Fatal(err)
	}
	script := string(b)
	for _, want := range []string{
		`mktemp -d "${TMPDIR:-/tmp}/user_data.sh.XXXXXX"`,
		`BIN="$TEMP_D/bin/maas-run-remote-scripts"`,
		"umask 077\n\t\tcat >\"$TEMP_D/creds.yaml\" <<'CREDS'\n" +
			"datasource:\n  MAAS:\n    metadata_url: 'http://10.0.0.2:5240/MAAS/metadata/'\n" +
			"    consumer_key: 'CK'\n    token_key: 'TK'\n    token_secret: 'TS'\nCREDS\n",
		`"$BIN" --config "$TEMP_D/creds.yaml" "$TEMP_D"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the commissioning user data lacks %q", want)
		}
	}
	if strings.Contains(script, "rm -rf") || strings.Contains(script, `rm -f "$TEMP_D`) {
		t.Error("the commissioning user data removes what the guide's commands need")
	}
}
