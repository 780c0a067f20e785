package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/wire"
)

// workloadRegion is an in-process Region (the runner's seam to the region) that serves one
// scripts tar and records the signals.
type workloadRegion struct {
	mu  sync.Mutex
	tar []byte // nil: 204 No Content
	// errs are returned by successive Scripts calls before the tar is served; the last one
	// repeats (nil ends them).
	errs    []error
	calls   int
	signals []Signal
}

func (w *workloadRegion) Scripts(context.Context) (io.ReadCloser, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	if len(w.errs) > 0 {
		err := w.errs[0]
		if len(w.errs) > 1 {
			w.errs = w.errs[1:]
		}
		if err != nil {
			return nil, false, err
		}
	}
	if w.tar == nil {
		return nil, false, nil
	}
	return io.NopCloser(bytes.NewReader(w.tar)), true, nil
}

func (w *workloadRegion) Signal(_ context.Context, sig Signal, _ string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.signals = append(w.signals, sig)
	return nil
}

func (w *workloadRegion) received() []Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Signal(nil), w.signals...)
}

// recordingCommands is the CommandRunner seam: it records what would have been run.
type recordingCommands struct {
	mu    sync.Mutex
	calls [][]string
}

func (c *recordingCommands) Run(_ context.Context, argv, _ []string, _, _ io.Writer) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, argv)
	return 0, nil
}

// wlScript is a script of the test's index.
type wlScript struct {
	name, typ, body string
	id              int64
	parallel        int
	def             bool
	tags            []string
	netconf         bool
	packages        string
}

func workloadTar(t *testing.T, list []wlScript) []byte {
	t.Helper()
	lists := map[string][]map[string]any{}
	var entries []tarEntry
	for _, s := range list {
		typ := s.typ
		if typ == "" {
			typ = "commissioning"
		}
		pk := s.packages
		if pk == "" {
			pk = "{}"
		}
		tags := s.tags
		if tags == nil {
			tags = []string{}
		}
		lists[typ+"_scripts"] = append(lists[typ+"_scripts"], map[string]any{
			"name": s.name, "path": typ + "/" + s.name, "script_result_id": s.id, "script_version_id": s.id + 100,
			"timeout_seconds": 60.0, "parallel": s.parallel, "hardware_type": 0, "parameters": map[string]any{},
			"packages": json.RawMessage(pk), "for_hardware": []string{}, "apply_configured_networking": s.netconf,
			"has_started": false, "has_finished": false, "default": s.def, "tags": tags,
		})
		entries = append(entries, tarEntry{name: typ + "/" + s.name, body: "#!/bin/sh\n" + s.body + "\n"})
	}
	idx, err := json.Marshal(map[string]any{"1.0": lists})
	if err != nil {
		t.Fatal(err)
	}
	return makeTar(t, append(entries, tarEntry{name: "index.json", body: string(idx), mode: 0o644}))
}

// deployInfoScripts are a region's commissioning list for a deployed machine: three
// default deploy-info scripts (one failing, one asking for networking and packages), one
// that is not default, one without the tag, and a test.
var deployInfoScripts = []wlScript{
	{name: "20-inventory", id: 1, def: true, tags: []string{"deploy-info"},
		body: `echo "bmc=${BMC_CONFIG_PATH:-none} started=$HAS_STARTED"`},
	{name: "b-fails", id: 2, parallel: 2, def: true, tags: []string{"node", "deploy-info"}, body: "echo broken >&2; exit 3"},
	{name: "c-not-default", id: 3, parallel: 2, tags: []string{"deploy-info"}, body: "exit 0"},
	{name: "d-untagged", id: 4, parallel: 2, def: true, body: "exit 0"},
	{name: "e-netconf", id: 5, parallel: 2, def: true, tags: []string{"deploy-info"}, netconf: true,
		packages: `{"apt": ["lldpd"]}`, body: "echo ok"},
	{name: "t-test", typ: "testing", id: 6, def: true, tags: []string{"deploy-info"}, body: "exit 0"},
}

func newWorkloadAgent(t *testing.T, region Region) (*Agent, *recordingCommands, *bytes.Buffer) {
	t.Helper()
	cmds := &recordingCommands{}
	var out bytes.Buffer
	return &Agent{
		StorageDir: t.TempDir(),
		Roots:      machine(t),
		Region:     region,
		Endpoint:   Endpoint{MetadataURL: "http://127.0.0.1:9/MAAS/metadata/2012-03-01/"},
		Commands:   cmds,
		Out:        &out,
		Env:        []string{"PATH=" + os.Getenv("PATH")},
		Heartbeat:  5 * time.Millisecond,
		Backoff:    Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
		Workload:   true,
	}, cmds, &out
}

// TestWorkloadRun checks what report-results runs and sends: only the default deploy-info
// commissioning scripts, no networking or installs, no heartbeat, no final signal, and the
// failing script's real exit status.
func TestWorkloadRun(t *testing.T) {
	region := &workloadRegion{tar: workloadTar(t, deployInfoScripts)}
	a, cmds, out := newWorkloadAgent(t, region)
	sum, err := a.Run(context.Background())
	if !errors.Is(err, ErrScriptsFailed) {
		t.Fatalf("Run: %v; want ErrScriptsFailed\n%s", err, out)
	}
	got := map[string]Outcome{}
	for _, oc := range sum.Outcomes {
		got[oc.Name] = oc
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"20-inventory", "b-fails", "e-netconf"}, names); diff != "" {
		t.Errorf("scripts run (-want +got):\n%s", diff)
	}
	if oc := got["b-fails"]; oc.Status != wire.ScriptFailed || oc.ExitStatus != 3 {
		t.Errorf("b-fails: %s exit %d; want failed, exit 3", oc.Status.Label(), oc.ExitStatus)
	}
	if sum.Final != "" {
		t.Errorf("final signal %q; a deployed machine must get none", sum.Final)
	}
	if len(cmds.calls) != 0 {
		t.Errorf("commands run on the workload machine: %v", cmds.calls)
	}
	stdout, err := os.ReadFile(filepath.Join(got["20-inventory"].OutDir, "20-inventory.out"))
	if err != nil || strings.TrimSpace(string(stdout)) != "bmc=none started=False" {
		t.Errorf("20-inventory saw %q (%v); want no BMC_CONFIG_PATH", stdout, err)
	}
	exits := map[string]int{}
	for _, s := range region.received() {
		if s.ScriptResultID == nil {
			t.Errorf("signal without a result (a heartbeat?): %+v", s)
		}
		if s.Status != wire.SignalWorking {
			t.Errorf("signal %s %q; want only WORKING", s.Status, s.Error)
		}
		if s.ExitStatus != nil {
			exits[s.Name] = *s.ExitStatus
		}
	}
	if diff := cmp.Diff(map[string]int{"20-inventory": 0, "b-fails": 3, "e-netconf": 0}, exits); diff != "" {
		t.Errorf("exit statuses sent (-want +got):\n%s", diff)
	}
	info, err := LoadRun(a.StorageDir, sum.RunID)
	if err != nil || !info.Workload {
		t.Errorf("run.json: workload %v (%v)", info.Workload, err)
	}
	if !strings.Contains(out.String(), "[2/3] b-fails ... failed (exit 3)") {
		t.Errorf("progress lacks the failure:\n%s", out)
	}
}

// TestWorkloadDownloadErrors checks the first request: a 401 that persists once the clock is
// learnt ends a report at once, a single 401 does not, and other failures keep the retry
// policy (--give-up-after), as does a commissioning run on 401.
func TestWorkloadDownloadErrors(t *testing.T) {
	unauthorized := fmt.Errorf("download scripts: %w", &HTTPError{StatusCode: 401, Body: "Invalid access token: TK"})
	serverErr := fmt.Errorf("download scripts: %w", &HTTPError{StatusCode: 500, Body: "oops"})
	tests := []struct {
		name      string
		errs      []error
		workload  bool
		wantErr   error
		wantText  string
		wantCalls func(int) bool
	}{
		{"refused credentials", []error{unauthorized}, true, ErrUnauthorized, "Invalid access token: TK", func(n int) bool { return n == 2 }},
		{"clock learnt on the first 401", []error{unauthorized, nil}, true, ErrScriptsFailed, "", func(n int) bool { return n == 2 }},
		{"server error is retried", []error{serverErr}, true, nil, "gave up after", func(n int) bool { return n > 2 }},
		{"commissioning retries a 401", []error{unauthorized}, false, nil, "gave up after", func(n int) bool { return n > 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			region := &workloadRegion{tar: workloadTar(t, deployInfoScripts), errs: tt.errs}
			a, _, _ := newWorkloadAgent(t, region)
			a.Workload = tt.workload
			a.GiveUpAfter = 100 * time.Millisecond
			start := time.Now()
			_, err := a.Run(context.Background())
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v; want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && (err == nil || errors.Is(err, ErrUnauthorized)) {
				t.Errorf("err = %v; want a retried failure", err)
			}
			if tt.wantText != "" && (err == nil || !strings.Contains(err.Error(), tt.wantText)) {
				t.Errorf("err = %v; want it to say %q", err, tt.wantText)
			}
			if !tt.wantCalls(region.calls) {
				t.Errorf("%d downloads", region.calls)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestWorkloadNothingToReport(t *testing.T) {
	tests := []struct {
		name string
		tar  func(t *testing.T) []byte
		want string
	}{
		{"no content", func(*testing.T) []byte { return nil }, "no scripts for this machine"},
		{"no deploy-info script", func(t *testing.T) []byte { return workloadTar(t, deployInfoScripts[2:4]) }, "tagged deploy-info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := newWorkloadAgent(t, &workloadRegion{tar: tt.tar(t)})
			_, err := a.Run(context.Background())
			if !errors.Is(err, ErrNothingToReport) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want ErrNothingToReport saying %q", err, tt.want)
			}
		})
	}
}

// TestWorkloadResume checks that a resumed report is still one: the mode comes from the run.
func TestWorkloadResume(t *testing.T) {
	a, _, _ := newWorkloadAgent(t, nil)
	if err := ExtractScripts(bytes.NewReader(workloadTar(t, deployInfoScripts)), filepath.Join(a.StorageDir, "scripts"),
		filepath.Join(a.StorageDir, "config")); err != nil {
		t.Fatal(err)
	}
	a.NoSend = true
	first, err := a.Run(context.Background())
	if !errors.Is(err, ErrScriptsFailed) || len(first.Outcomes) != 3 {
		t.Fatalf("Run: %v, %d outcomes", err, len(first.Outcomes))
	}
	b, _, _ := newWorkloadAgent(t, nil)
	b.StorageDir, b.Workload, b.NoSend = a.StorageDir, false, true
	again, err := b.Resume(context.Background())
	if !errors.Is(err, ErrScriptsFailed) || !b.Workload || len(again.Outcomes) != 3 || again.Final != "" {
		t.Fatalf("Resume: %v, workload %v, %d outcomes, final %q", err, b.Workload, len(again.Outcomes), again.Final)
	}
	for _, oc := range again.Outcomes {
		if !oc.Resumed {
			t.Errorf("%s ran again", oc.Name)
		}
	}
}

func TestDeployInfoPhase(t *testing.T) {
	x, err := ParseIndex([]byte(`{"1.0": {"commissioning_scripts": [
		{"name": "z", "path": "commissioning/z", "script_result_id": 1, "default": true, "tags": ["deploy-info"]},
		{"name": "a", "path": "commissioning/a", "script_result_id": 2, "default": true, "tags": ["x"]},
		{"name": "m", "path": "commissioning/m", "script_result_id": 3, "default": false, "tags": ["deploy-info"]},
		{"name": "b", "path": "commissioning/b", "script_result_id": 4, "tags": ["deploy-info"]},
		{"name": "c", "path": "commissioning/c", "script_result_id": 5, "default": true, "tags": ["deploy-info"]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	p := DeployInfoPhase(x)
	var got []string
	for _, s := range p.Scripts {
		got = append(got, fmt.Sprintf("%s %d/%d", s.Name, s.Pos, s.Of))
	}
	if diff := cmp.Diff([]string{"c 1/2", "z 2/2"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if x.Phases[0].Scripts[0].Of != 5 {
		t.Errorf("the index was changed")
	}
	if DeployInfoPhase(&Index{}) != nil {
		t.Errorf("a phase from an empty index")
	}
}

// sampleCreds is the seed's example, with its odd indentation.
const sampleCreds = `reporting:
          maas:
            consumer_key: CKEY
            endpoint: http://10.0.0.2:5240/MAAS/metadata/status/abc123
            token_key: TKEY
            token_secret: TSECRET
`

func TestParseCreds(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Creds
		wantErr string
	}{
		{"seed example", sampleCreds, Creds{Credentials: wire.Credentials{ConsumerKey: "CKEY", TokenKey: "TKEY", TokenSecret: "TSECRET"},
			Endpoint: "http://10.0.0.2:5240/MAAS/metadata/status/abc123"}, ""},
		{"flow style with extras", "reporting: {maas: {type: webhook, consumer_key: c, consumer_secret: s, token_key: k, token_secret: '0123', endpoint: 'http://h/MAAS/metadata/status/x'}}\nother: 1\n",
			Creds{Credentials: wire.Credentials{ConsumerKey: "c", ConsumerSecret: "s", TokenKey: "k", TokenSecret: "0123"}, Endpoint: "http://h/MAAS/metadata/status/x"}, ""},
		{"null values stay empty", "reporting:\n  maas:\n    consumer_key: ~\n    token_key: k\n", Creds{Credentials: wire.Credentials{TokenKey: "k"}}, ""},
		{"anchors", "x: &t TK\nreporting:\n  maas:\n    token_key: *t\n", Creds{Credentials: wire.Credentials{TokenKey: "TK"}}, ""},
		{"empty file", "", Creds{}, "want a YAML mapping"},
		{"not YAML", "reporting: [", Creds{}, "invalid YAML"},
		{"a list", "- a\n", Creds{}, "want a YAML mapping"},
		{"no reporting", "datasource: {}\n", Creds{}, "no reporting: mapping"},
		{"no maas", "reporting: {other: {}}\n", Creds{}, "no reporting: maas: mapping"},
		{"maas is a string", "reporting: {maas: x}\n", Creds{}, "no reporting: maas: mapping"},
		{"token is a list", "reporting: {maas: {token_key: [a]}}\n", Creds{}, "reporting.maas.token_key: want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCreds([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredsMarshal(t *testing.T) {
	c := NewCreds("http://10.0.0.2:5240/MAAS/", "abc123", wire.Credentials{ConsumerKey: "CKEY", TokenKey: "TKEY", TokenSecret: "TSECRET"})
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "reporting:\n  maas:\n    consumer_key: CKEY\n    endpoint: http://10.0.0.2:5240/MAAS/metadata/status/abc123\n    token_key: TKEY\n    token_secret: TSECRET\n"
	if diff := cmp.Diff(want, string(data)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	back, err := ParseCreds(data)
	if err != nil || back != c {
		t.Errorf("round trip: %+v (%v); want %+v", back, err, c)
	}
	// Values YAML would read as something else are quoted.
	odd := Creds{Credentials: wire.Credentials{ConsumerKey: "123", TokenKey: "true", TokenSecret: "a: b", ConsumerSecret: "#x"}, Endpoint: "http://h/"}
	data, err = odd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseCreds(data); err != nil || back != odd {
		t.Errorf("round trip of %q: %+v (%v)", data, back, err)
	}
}

func TestReportMetadataURL(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"http://10.0.0.2:5240/MAAS/metadata/status/abc123", "http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", ""},
		{"http://10.0.0.2:5240/MAAS/metadata/", "http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", ""},
		{"http://10.0.0.2:5240/MAAS/metadata", "http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", ""},
		{"https://maas.example/region/MAAS/metadata/status/x", "https://maas.example/region/MAAS/metadata/2012-03-01/", ""},
		{"http://[fd00::2]:5240/metadata/status/x", "http://[fd00::2]:5240/metadata/2012-03-01/", ""},
		{"http://10.0.0.2:5240", "http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", ""},
		{"http://10.0.0.2:5240/other/path", "http://10.0.0.2:5240/MAAS/metadata/2012-03-01/", ""},
		{"http://h:5240/MAAS/metadata/status/x?y=1#z", "http://h:5240/MAAS/metadata/2012-03-01/", ""},
		{"", "", "no MAAS URL set"},
		{"10.0.0.2:5240/MAAS", "", "endpoint"},
		{"//h:5240/MAAS/metadata/", "", "want http(s)://"},
		{"ftp://h/MAAS/metadata/", "", "want http(s)://"},
		{"http://h:5240/%zz", "", "invalid URL escape"},
	}
	for _, tt := range tests {
		got, err := ReportMetadataURL(tt.in, DefaultAPIVersion)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReportMetadataURL(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ReportMetadataURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// TestUnameMachine: the running kernel names an architecture the table knows (wire.Arches).
func TestUnameMachine(t *testing.T) {
	m, err := UnameMachine()
	if err != nil || m == "" {
		t.Fatalf("UnameMachine() = %q, %v", m, err)
	}
	if _, ok := wire.ArchByUname(m); !ok {
		t.Errorf("uname -m %q is not in wire.Arches", m)
	}
}

func FuzzParseCreds(f *testing.F) {
	f.Add([]byte(sampleCreds))
	f.Add([]byte("reporting: {maas: {token_key: [a]}}\n"))
	f.Add([]byte("reporting: &a {maas: *a}\n"))
	f.Add([]byte("- x\n"))
	f.Add([]byte("reporting: {maas: {token_key: a}}\ntls_fingerprint: " + strings.Repeat("AB", 32) + "\n"))
	f.Add([]byte("reporting: {maas: {token_key: a}}\ntls_ca: &a [*a]\n"))
	f.Add([]byte("reporting: {maas: {token_key: a}}\ntls_ca: |\n  -----BEGIN CERTIFICATE-----\n  AAAA\n  -----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCreds(data)
		if err != nil {
			if c != (Creds{}) {
				t.Fatalf("error with partial credentials: %+v", c)
			}
			return
		}
		// Accepted TLS settings are usable, and never skip the checks.
		if _, err := c.TLS.Config(); err != nil || c.TLS.Insecure {
			t.Fatalf("accepted unusable TLS settings %+v: %v", c.TLS, err)
		}
		// What parsed survives a write and a read.
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("marshal %+v: %v", c, err)
		}
		back, err := ParseCreds(out)
		if err != nil || back != c {
			t.Fatalf("round trip of %+v: %+v, %v\n%s", c, back, err, out)
		}
	})
}

func FuzzReportMetadataURL(f *testing.F) {
	f.Add("http://10.0.0.2:5240/MAAS/metadata/status/abc123")
	f.Add("https://h/a/b/metadata")
	f.Add("http://[::1]:80")
	f.Fuzz(func(t *testing.T, endpoint string) {
		u, err := ReportMetadataURL(endpoint, DefaultAPIVersion)
		if err != nil {
			return
		}
		if !strings.HasSuffix(u, "/metadata/"+DefaultAPIVersion+"/") || (!strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://")) {
			t.Fatalf("ReportMetadataURL(%q) = %q", endpoint, u)
		}
		if _, err := MetadataURL(strings.TrimSuffix(u, DefaultAPIVersion+"/"), DefaultAPIVersion); err != nil {
			t.Fatalf("ReportMetadataURL(%q) = %q, which the runner refuses: %v", endpoint, u, err)
		}
	})
}
