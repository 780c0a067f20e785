// Package userdata renders what a machine runs when it boots for the region: for
// commissioning and testing, a shell script that fetches the agent, checks its SHA-256, writes
// the machine's credentials and runs the scripts; for a deployment, a report of the end of the
// installation that cloud-init runs after the user's own user data, which it keeps.
package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"text/template"
	"unicode/utf8"

	"maasgo/region/store"
	"maasgo/wire"
)

// Agent describes the agent binaries the region serves: SHA-256 by Debian architecture, and
// CA, the PEM authorities that vouch for the region's TLS certificate ("" when machines
// trust their system's authorities, or the region serves plain HTTP). With a CA, the scripts
// fetch the agent checking the region's certificate against it, and the commissioning
// user data hands it to the agent (tls_ca in creds.yaml).
type Agent struct {
	Sums map[string]string
	CA   string
}

// Input is what a machine's user data is made of.
type Input struct {
	Machine *store.Machine
	Token   *store.Token
	// URL is the region as the machine reaches it, e.g. http://10.0.0.2:5240/MAAS.
	URL   string
	Agent Agent
}

// For renders the user data of the machine's current status; ok is false when the status
// has none of the region's (the machine's stored user data, if any, applies).
func For(in Input) (data []byte, ok bool, err error) {
	switch in.Machine.Status {
	case wire.NodeCommissioning, wire.NodeTesting, wire.NodeDiskErasing:
		b, err := Commissioning(in)
		return b, err == nil, err
	case wire.NodeDeploying:
		b, err := Deploy(in)
		return b, err == nil, err
	}
	return nil, false, nil
}

// shellHelpers are the shell functions both the commissioning user data and the launcher use
// to fetch the agent of the machine's architecture and check it against the region's SHA-256.
const shellHelpers = `{{define "helpers" -}}
fail() {
	echo "{{.Who}}: $*" >&2
	exit 1
}

{{- if .CA}}

# write_ca writes the authorities that vouch for the region's TLS certificate to $1.
write_ca() {
	cat >"$1" <<'MAAS_REGION_CA'
{{.CA}}MAAS_REGION_CA
}
{{- end}}

# fetch downloads $1 into $2, checking the region's TLS certificate{{if .CA}} against $CA_FILE{{end}}.
fetch() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL {{if .CA}}--cacert "$CA_FILE" {{end}}-o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q {{if .CA}}--ca-certificate="$CA_FILE" {{end}}-O "$2" "$1"
	else
		echo "{{.Who}}: neither curl nor wget is installed" >&2
		return 1
	fi
}

sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		openssl dgst -sha256 -r "$1" | cut -d' ' -f1
	fi
}

# agent_arch prints the Debian architecture of this machine's agent.
agent_arch() {
	case $(uname -m) in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	*) return 1 ;;
	esac
}

# agent_sum prints the SHA-256 of the region's agent for an architecture.
agent_sum() {
	case $1 in
{{- range .Sums}}
	{{.Arch}}) echo {{.Sum}} ;;
{{- end}}
	*) return 1 ;;
	esac
}
{{- end}}`

var commissioningTmpl = template.Must(template.Must(template.New("commissioning").Funcs(template.FuncMap{"indent": indentLines}).Parse(shellHelpers)).Parse(`#!/bin/sh
# MAAS user data for {{.Hostname}} ({{.SystemID}}): fetch the agent, run the commissioning and
# testing scripts, report every result. It holds the machine's credentials: keep it private.
set -u
MAAS_URL='{{.URL}}'
LOG=/var/log/cloud-init-output.log

{{template "helpers" .}}

main() {
	arch=$(agent_arch) || fail "the region has no agent for this machine's architecture $(uname -m)"
	sum=$(agent_sum "$arch") || fail "the region has no agent built for $arch"
	TEMP_D=$(mktemp -d "${TMPDIR:-/tmp}/user_data.sh.XXXXXX") || fail "cannot create a working directory"
	mkdir -p "$TEMP_D/bin" "$TEMP_D/scripts" "$TEMP_D/out" || fail "cannot create $TEMP_D"
	BIN="$TEMP_D/bin/maas-run-remote-scripts"
{{- if .CA}}
	CA_FILE="$TEMP_D/region-ca.pem"
	write_ca "$CA_FILE" || fail "cannot write the region's CA to $CA_FILE"
{{- end}}
	echo "user data: fetching the agent for $arch from $MAAS_URL into $TEMP_D"
	fetch "$MAAS_URL/maas-run-scripts/$arch" "$BIN" || fail "cannot download $MAAS_URL/maas-run-scripts/$arch"
	got=$(sha256 "$BIN")
	[ "$got" = "$sum" ] || fail "the agent's SHA-256 is $got, not the region's $sum: refusing to run it"
	chmod 755 "$BIN"
	# creds.yaml stays: the guide's debug commands ($TEMP_D/bin/maas-run-remote-scripts
	# [--no-download] [--no-send] $TEMP_D) find it there without --config.
	(
		umask 077
		cat >"$TEMP_D/creds.yaml" <<'CREDS'
datasource:
  MAAS:
    metadata_url: '{{.URL}}/metadata/'
    consumer_key: '{{.ConsumerKey}}'
    token_key: '{{.TokenKey}}'
    token_secret: '{{.TokenSecret}}'
{{- if .CA}}
    tls_ca: |
{{indent "      " .CA}}
{{- end}}
CREDS
	) || fail "cannot write the credentials"
	PATH="$TEMP_D/bin:$PATH"
	export PATH
	"$BIN" --config "$TEMP_D/creds.yaml" "$TEMP_D"
}

# Log to the console and to cloud-init's log; keep the agent's exit status.
if { [ -e "$LOG" ] && [ -w "$LOG" ]; } || { [ ! -e "$LOG" ] && [ -w "$(dirname "$LOG")" ]; }; then
	status=$(mktemp)
	{
		main
		echo $? >"$status"
	} 2>&1 | tee -a "$LOG"
	rc=$(cat "$status")
	rm -f "$status"
	exit "${rc:-1}"
fi
main
`))

var launcherTmpl = template.Must(template.Must(template.New("launcher").Parse(shellHelpers)).Parse(`#!/bin/sh
# maas-run-scripts from the MAAS region at {{.URL}}.
# It runs the agent built for this machine's architecture, fetched from the region once, checked
# against the region's SHA-256 and kept beside this file (or in ~/.cache/maas-run-scripts).
set -u
MAAS_URL='{{.URL}}'

{{template "helpers" .}}

arch=$(agent_arch) || fail "the region has no agent for this machine's architecture $(uname -m)"
sum=$(agent_sum "$arch") || fail "the region has no agent built for $arch (run make build on the region)"
dir=$(cd "$(dirname "$0")" && pwd)
if [ ! -w "$dir" ]; then
	dir="${XDG_CACHE_HOME:-$HOME/.cache}/maas-run-scripts"
	mkdir -p "$dir" || exit 1
fi
bin="$dir/.maas-run-scripts-$arch-$sum"
if [ ! -x "$bin" ]; then
	tmp="$bin.$$"
{{- if .CA}}
	CA_FILE="$tmp.ca.pem"
	write_ca "$CA_FILE" || fail "cannot write the region's CA to $CA_FILE"
	fetch "$MAAS_URL/maas-run-scripts/$arch" "$tmp" || { rm -f "$tmp" "$CA_FILE"; fail "cannot download $MAAS_URL/maas-run-scripts/$arch"; }
	rm -f "$CA_FILE"
{{- else}}
	fetch "$MAAS_URL/maas-run-scripts/$arch" "$tmp" || { rm -f "$tmp"; fail "cannot download $MAAS_URL/maas-run-scripts/$arch"; }
{{- end}}
	got=$(sha256 "$tmp")
	if [ "$got" != "$sum" ]; then
		rm -f "$tmp"
		fail "the agent's SHA-256 is $got, not $sum: the region's agent changed, download maas-run-scripts again"
	fi
	chmod 755 "$tmp" && mv "$tmp" "$bin" || exit 1
fi
exec "$bin" "$@"
`))

// Launcher renders the script served at /MAAS/maas-run-scripts: it runs the agent built for
// the machine's own architecture, fetched from the region at url once (checking the region's
// certificate against agent.CA when set) and checked against its SHA-256.
func Launcher(url string, agent Agent) ([]byte, error) {
	if err := quotable("the launcher", url); err != nil {
		return nil, err
	}
	ca, err := CanonicalCA(agent.CA)
	if err != nil {
		return nil, fmt.Errorf("the launcher: %w", err)
	}
	var b bytes.Buffer
	err = launcherTmpl.Execute(&b, map[string]any{"Who": "maas-run-scripts", "URL": url, "Sums": sortedSums(agent.Sums), "CA": ca})
	return b.Bytes(), err
}

type archSum struct{ Arch, Sum string }

func sortedSums(m map[string]string) []archSum {
	var out []archSum
	for a, s := range m {
		out = append(out, archSum{a, s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Arch < out[j].Arch })
	return out
}

// quotable rejects values that cannot sit inside single quotes in the script.
func quotable(systemID string, vals ...string) error {
	for _, v := range vals {
		if strings.ContainsAny(v, "'\"\n\\$`") {
			return fmt.Errorf("user data of %s: %q cannot be quoted", systemID, v)
		}
	}
	return nil
}

// Commissioning renders the commissioning and testing script (protocol.md §8), which cloud-init
// runs, or a person with sh.
func Commissioning(in Input) ([]byte, error) {
	if in.Token == nil {
		return nil, fmt.Errorf("user data of %s: the machine has no token", in.Machine.SystemID)
	}
	if err := quotable(in.Machine.SystemID, in.URL, in.Token.ConsumerKey, in.Token.TokenKey, in.Token.TokenSecret); err != nil {
		return nil, err
	}
	ca, err := CanonicalCA(in.Agent.CA)
	if err != nil {
		return nil, fmt.Errorf("user data of %s: %w", in.Machine.SystemID, err)
	}
	var b bytes.Buffer
	err = commissioningTmpl.Execute(&b, map[string]any{
		"Who": "user data", "Sums": sortedSums(in.Agent.Sums), "Hostname": in.Machine.Hostname, "SystemID": in.Machine.SystemID, "URL": strings.TrimSuffix(in.URL, "/"),
		"ConsumerKey": in.Token.ConsumerKey, "TokenKey": in.Token.TokenKey, "TokenSecret": in.Token.TokenSecret, "CA": ca,
	})
	return b.Bytes(), err
}

// Enlistment renders the user data of a machine the region does not know (upstream's
// enlist user-data): the commissioning script without a token, so the agent enlists the
// machine, then reports the enlistment scripts' results with the token it was given.
func Enlistment(url string, agent Agent) ([]byte, error) {
	if err := quotable("an enlisting machine", url); err != nil {
		return nil, err
	}
	ca, err := CanonicalCA(agent.CA)
	if err != nil {
		return nil, fmt.Errorf("enlistment user data: %w", err)
	}
	var b bytes.Buffer
	err = commissioningTmpl.Execute(&b, map[string]any{
		"Who": "user data", "Sums": sortedSums(agent.Sums), "Hostname": "a machine enlisting itself", "SystemID": "no system id yet",
		"URL": strings.TrimSuffix(url, "/"), "ConsumerKey": "", "TokenKey": "", "TokenSecret": "", "CA": ca,
	})
	return b.Bytes(), err
}

// deployReportTmpl is the shell that reports the end of a deployment to the region, as
// cloud-init's own webhook reporter does for upstream's region: the finish event of
// modules-final.
var deployReportTmpl = template.Must(template.New("report").Parse(`now=$(date +%s)
auth="OAuth oauth_nonce=\"$now$$\", oauth_timestamp=\"$now\", oauth_version=\"1.0\", oauth_signature_method=\"PLAINTEXT\", oauth_consumer_key=\"{{.ConsumerKey}}\", oauth_token=\"{{.TokenKey}}\", oauth_signature=\"%26{{.TokenSecret}}\""
body='{"event_type": "finish", "origin": "cloudinit", "name": "modules-final", "description": "deployment finished", "result": "SUCCESS"}'
url='{{.URL}}/metadata/status/{{.SystemID}}'
{{- if .CA}}
ca=$(mktemp) || exit 1
cat >"$ca" <<'MAAS_REGION_CA'
{{.CA}}MAAS_REGION_CA
{{- end}}
if command -v curl >/dev/null 2>&1; then
  curl -fsS {{if .CA}}--cacert "$ca" {{end}}-X POST -H "Authorization: $auth" -H "Content-Type: application/json" --data "$body" "$url"
else
  wget -q {{if .CA}}--ca-certificate="$ca" {{end}}-O /dev/null --header="Authorization: $auth" --header="Content-Type: application/json" --post-data="$body" "$url"
fi
{{- if .CA}}
rc=$?
rm -f "$ca"
exit "$rc"
{{- end}}
`))

// deployTmpl is the deployment's user data when the user gave none: nothing can merge with
// its runcmd (vendor data ranks below user data).
var deployTmpl = template.Must(template.New("deploy").Funcs(template.FuncMap{"indent": indentLines}).Parse(`#cloud-config
# MAAS: report the end of the deployment of {{.Hostname}} ({{.SystemID}}).
runcmd:
  - - sh
    - -c
    - |
{{indent "      " .Report}}`))

// deployScriptTmpl is the report as a user script, for when the user gave user data:
// cloud-init never merges a text/x-shellscript part, and its scripts-user module (the one
// that also runs runcmd) runs the scripts by name, this one after "runcmd" and the user's.
var deployScriptTmpl = template.Must(template.New("deploy-script").Parse(`#!/bin/sh
# MAAS: report the end of the deployment of {{.Hostname}} ({{.SystemID}}), after runcmd and
# the user's own scripts.
{{.Report}}`))

// deployScriptName is the report script's file name in cloud-init's scripts directory, where
// scripts-user runs the files in Python's sorted order: "zzzz" puts it after "runcmd",
// "part-NNN", "user-data" and any name users give their scripts but a few. It is made of
// characters cloud-init's clean_filename keeps.
const deployScriptName = "zzzz-maas-deployment-finished"

// indentLines prefixes each non-empty line of s.
func indentLines(prefix, s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

// Deploy renders a deployment's user data: cloud-config whose command reports the end of the
// installation to the region or, when the user gave user data at deploy time, a MIME
// multipart document of theirs and the report as a user script. cloud-init merges the
// cloud-config parts of a document, and the user's runcmd, or their merge_how, replaces the
// region's runcmd: a script part is never merged (issue 13).
func Deploy(in Input) ([]byte, error) {
	if in.Token == nil {
		return nil, fmt.Errorf("user data of %s: the machine has no token", in.Machine.SystemID)
	}
	if err := quotable(in.Machine.SystemID, in.URL, in.Token.ConsumerKey, in.Token.TokenKey, in.Token.TokenSecret); err != nil {
		return nil, err
	}
	ca, err := CanonicalCA(in.Agent.CA)
	if err != nil {
		return nil, fmt.Errorf("user data of %s: %w", in.Machine.SystemID, err)
	}
	vals := map[string]any{"Hostname": in.Machine.Hostname, "SystemID": in.Machine.SystemID,
		"URL": strings.TrimSuffix(in.URL, "/"), "ConsumerKey": in.Token.ConsumerKey, "TokenKey": in.Token.TokenKey,
		"TokenSecret": in.Token.TokenSecret, "CA": ca}
	var report bytes.Buffer
	if err := deployReportTmpl.Execute(&report, vals); err != nil {
		return nil, fmt.Errorf("rendering the deploy user data of %s: %w", in.Machine.SystemID, err)
	}
	vals["Report"] = report.String()
	tmpl := deployTmpl
	if len(in.Machine.UserData) > 0 {
		tmpl = deployScriptTmpl
	}
	var own bytes.Buffer
	if err := tmpl.Execute(&own, vals); err != nil {
		return nil, fmt.Errorf("rendering the deploy user data of %s: %w", in.Machine.SystemID, err)
	}
	if len(in.Machine.UserData) == 0 {
		return own.Bytes(), nil
	}
	rh := textproto.MIMEHeader{}
	rh.Set("Content-Type", `text/x-shellscript; charset="utf-8"`)
	rh.Set("MIME-Version", "1.0")
	rh.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", deployScriptName))
	uh, ub := userPart(in.Machine.UserData)
	var parts bytes.Buffer
	w := multipart.NewWriter(&parts)
	for _, p := range []struct {
		h    textproto.MIMEHeader
		body []byte
	}{{uh, ub}, {rh, own.Bytes()}} {
		pw, err := w.CreatePart(p.h)
		if err != nil {
			return nil, fmt.Errorf("rendering the deploy user data of %s: %w", in.Machine.SystemID, err)
		}
		pw.Write(p.body)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("rendering the deploy user data of %s: %w", in.Machine.SystemID, err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=%q\nMIME-Version: 1.0\n\n", w.Boundary())
	b.Write(parts.Bytes())
	return b.Bytes(), nil
}

// maxUserData bounds the user's gzip user data once decompressed.
const maxUserData = 64 << 20

// userPart is the user's own user data as a part of the deployment's document, made so that
// cloud-init reads it as it reads user data alone (cloudinit.user_data.convert_string).
func userPart(data []byte) (textproto.MIMEHeader, []byte) {
	h := textproto.MIMEHeader{}
	h.Set("MIME-Version", "1.0")
	h.Set("Content-Disposition", `attachment; filename="user-data"`)
	// cloud-init decompresses gzip user data first; in a part it would not find the MIME
	// document a gzip may hold, and the raw bytes are not the UTF-8 it decodes the whole
	// document as.
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		plain, err := gunzip(data)
		if err != nil {
			// cloud-init tries again, and logs why it fails.
			h.Set("Content-Type", "application/x-gzip")
			h.Set("Content-Transfer-Encoding", "base64")
			return h, base64Lines(data)
		}
		data = plain
	}
	// The user's own MIME document (cloud-init's test: "mime-version:" in the first 4096
	// bytes) stays one, nested: cloud-init walks its parts like the outer ones, where as
	// text it would ignore them.
	if bytes.Contains(bytes.ToLower(data[:min(len(data), 4096)]), []byte("mime-version:")) {
		if msg, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
			if body, err := io.ReadAll(msg.Body); err == nil {
				nested := textproto.MIMEHeader(msg.Header)
				if nested.Get("Content-Type") == "" {
					nested.Set("Content-Type", "text/plain")
				}
				return nested, body
			}
		}
	}
	// text/plain makes cloud-init find the type from the first line, as it does for user data
	// alone: #cloud-config, #!, #cloud-config-archive, ## template: jinja and the rest.
	h.Set("Content-Type", `text/plain; charset="utf-8"`)
	if !utf8.Valid(data) {
		h.Set("Content-Transfer-Encoding", "base64")
		return h, base64Lines(data)
	}
	return h, data
}

func gunzip(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompressing the user's gzip user data: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(r, maxUserData+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing the user's gzip user data: %w", err)
	}
	if len(out) > maxUserData {
		return nil, fmt.Errorf("decompressing the user's gzip user data: more than %d bytes", maxUserData)
	}
	return out, nil
}

// base64Lines is b in base64 as MIME wants it: lines of 76 characters.
func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	var out bytes.Buffer
	for len(enc) > 76 {
		out.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	out.WriteString(enc + "\n")
	return out.Bytes()
}
