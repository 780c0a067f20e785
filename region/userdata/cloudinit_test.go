package userdata

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"maasgo/region/store"
	"maasgo/wire"
)

// reportBody is what the deployment's report sends to the region, today and before issue 13.
const reportBody = `{"event_type": "finish", "origin": "cloudinit", "name": "modules-final", "description": "deployment finished", "result": "SUCCESS"}`

// userMultipart is a user's own MIME user data: cloud-config whose Merge-Type header replaces
// lists, a named script and an unnamed one (cloud-init names it part-NNN).
const userMultipart = "Content-Type: multipart/mixed; boundary=\"USERBOUNDARY\"\nMIME-Version: 1.0\n\n" +
	"--USERBOUNDARY\nContent-Type: text/cloud-config; charset=\"us-ascii\"\nMIME-Version: 1.0\n" +
	"Merge-Type: list(replace)+dict(replace)\nContent-Disposition: attachment; filename=\"mine.cfg\"\n\n" +
	"#cloud-config\nruncmd:\n  - echo mp-1 >> LOG\n\n" +
	"--USERBOUNDARY\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\nMIME-Version: 1.0\n" +
	"Content-Disposition: attachment; filename=\"setup.sh\"\n\n#!/bin/sh\necho mp-2 >> LOG\n\n" +
	"--USERBOUNDARY\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\nMIME-Version: 1.0\n\n" +
	"#!/bin/sh\necho mp-3 >> LOG\n\n--USERBOUNDARY--\n"

type userCase struct {
	name string
	data string // LOG stands for the file the user's commands append their marker to
	// markers are what the user's commands write, each once, all before the report.
	markers []string
}

var userCases = []userCase{
	{"none", "", nil},
	{"cloud-config with runcmd", "#cloud-config\nruncmd:\n  - echo cc-1 >> LOG\n  - [sh, -c, 'echo cc-2 >> LOG']\n", []string{"cc-1", "cc-2"}},
	{"cloud-config whose merge_how replaces lists", "#cloud-config\nmerge_how:\n  - name: list\n    settings: [replace]\n" +
		"  - name: dict\n    settings: [replace]\nruncmd:\n  - echo mh-1 >> LOG\n", []string{"mh-1"}},
	{"shell script", "#!/bin/sh\necho sh-1 >> LOG\n", []string{"sh-1"}},
	{"MIME multipart", userMultipart, []string{"mp-1", "mp-2", "mp-3"}},
	{"gzip cloud-config", "gzip:#cloud-config\nruncmd:\n  - echo gz-1 >> LOG\n", []string{"gz-1"}},
	{"cloud-config-archive", "#cloud-config-archive\n- type: text/cloud-config\n  content: |\n    runcmd:\n      - echo ar-1 >> LOG\n" +
		"- content: |\n    #!/bin/sh\n    echo ar-2 >> LOG\n", []string{"ar-1", "ar-2"}},
}

// userData is the case's user data with its markers appending to log.
func (c userCase) userData(t *testing.T, log string) []byte {
	data := strings.ReplaceAll(c.data, "LOG", log)
	if rest, ok := strings.CutPrefix(data, "gzip:"); ok {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(rest))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if data == "" {
		return nil
	}
	return []byte(data)
}

func deployFor(t *testing.T, url string, userData []byte) []byte {
	t.Helper()
	b, err := Deploy(Input{Machine: &store.Machine{SystemID: "abc123", Hostname: "h", Status: wire.NodeDeploying, UserData: userData},
		Token: &store.Token{ConsumerKey: "CK", TokenKey: "TK", TokenSecret: "TS"}, URL: url})
	if err != nil {
		t.Fatalf("deploy user data: %v", err)
	}
	return b
}

// With user data of their own, the report is a shell-script part, which cloud-init runs as a
// user script (scripts-user) and never merges with cloud-config: the user's cloud-config,
// whatever its runcmd or merge rules, cannot drop it. Its name sorts after "runcmd" and the
// user's parts, so scripts-user runs it after the user's commands. Before issue 13 the report
// was a runcmd in a cloud-config part, which the user's runcmd replaced.
func TestDeployReportIsNotMerged(t *testing.T) {
	for _, c := range userCases {
		t.Run(c.name, func(t *testing.T) {
			ud := c.userData(t, "/tmp/log")
			doc := deployFor(t, "http://r/MAAS", ud)
			if ud == nil {
				// Nothing to merge with: the cloud-config of before, which cmd/maas-region's
				// TestUserData runs.
				if !bytes.HasPrefix(doc, []byte("#cloud-config\n")) || !bytes.Contains(doc, []byte("deployment finished")) {
					t.Errorf("deploy user data without the user's:\n%s", doc)
				}
				return
			}
			msg, err := mail.ReadMessage(bytes.NewReader(doc))
			if err != nil {
				t.Fatalf("deploy user data is not MIME: %v\n%s", err, doc)
			}
			mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
			if err != nil || mt != "multipart/mixed" {
				t.Fatalf("deploy user data is %q, not multipart/mixed: %v", mt, err)
			}
			mr := multipart.NewReader(msg.Body, params["boundary"])
			reports, users := 0, 0
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("reading the parts: %v", err)
				}
				body, _ := io.ReadAll(p)
				ct, ctParams, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
				if bytes.Contains(body, []byte("deployment finished")) {
					reports++
					name := p.FileName()
					if ct != "text/x-shellscript" {
						t.Errorf("the report is a %s part, which cloud-init may merge away", ct)
					}
					if strings.Trim(name, "_-.()0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
						t.Errorf("cloud-init's clean_filename changes the report's name %q", name)
					}
					for _, before := range []string{"runcmd", "user-data", "part-999", "setup.sh"} {
						if name <= before {
							t.Errorf("the report %q runs before %q", name, before)
						}
					}
					if !bytes.HasPrefix(body, []byte("#!/bin/sh\n")) || !bytes.Contains(body, []byte(reportBody)) {
						t.Errorf("report script:\n%s", body)
					}
					continue
				}
				users++
				if strings.HasPrefix(c.data, "Content-Type: multipart/") {
					// The user's MIME document stays one, not text cloud-init would ignore.
					if ct != "multipart/mixed" || ctParams["boundary"] != "USERBOUNDARY" || !bytes.Contains(body, []byte("echo mp-3")) {
						t.Errorf("the user's multipart became %s %v:\n%s", ct, ctParams, body)
					}
				} else if !bytes.Contains(body, []byte(c.markers[0])) {
					t.Errorf("the user's part lost their commands:\n%s", body)
				}
			}
			if reports != 1 || users != 1 {
				t.Errorf("%d report parts and %d user parts, want 1 and 1:\n%s", reports, users, doc)
			}
		})
	}
}

// cloudInitPython is a python3 that imports cloud-init, or "" when none does.
func cloudInitPython() string {
	var candidates []string
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	// Debian's cloud-init is in /usr/bin/python3's dist-packages, which another python3
	// first on PATH (pyenv, a virtualenv) does not see.
	candidates = append(candidates, "/usr/bin/python3")
	for _, p := range candidates {
		if exec.Command(p, "-c", "import cloudinit.user_data, cloudinit.handlers.cloud_config").Run() == nil {
			return p
		}
	}
	return ""
}

type cloudInitResult struct {
	Version     string         `json:"version"`
	CloudConfig map[string]any `json:"cloud_config"`
	Scripts     []struct {
		Name, Content string
	} `json:"scripts"`
	RunError *string `json:"run_error"`
}

// cloud-init itself (Debian's cloud-init package) reads the deploy user data, merges its
// cloud-config parts, writes runcmd and runs the user scripts in its order
// (testdata/cloudinit_merge.py): the report reaches the region once, with what it sent before
// issue 13, after every command of the user's, none of which is lost.
func TestDeployUserDataThroughCloudInit(t *testing.T) {
	python := cloudInitPython()
	if python == "" {
		t.Skip("python3 has no cloudinit module: install Debian's cloud-init package (hack/test.sh does when apt is available)")
	}
	script, err := filepath.Abs("testdata/cloudinit_merge.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range userCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "user.log")
			type report struct {
				auth, body, logThen string
			}
			var mu sync.Mutex
			var reports []report
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				logThen, _ := os.ReadFile(log)
				mu.Lock()
				defer mu.Unlock()
				if r.Method != "POST" || r.URL.Path != "/MAAS/metadata/status/abc123" {
					t.Errorf("unexpected request %s %s", r.Method, r.URL)
				}
				reports = append(reports, report{r.Header.Get("Authorization"), string(body), string(logThen)})
			}))
			defer srv.Close()
			ud := filepath.Join(dir, "user-data")
			if err := os.WriteFile(ud, deployFor(t, srv.URL+"/MAAS", c.userData(t, log)), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(python, script, ud, filepath.Join(dir, "work"), "--run")
			// The report goes to the test's server, never through a proxy.
			cmd.Env = append(os.Environ(), "no_proxy=*", "NO_PROXY=*")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("cloud-init on the deploy user data: %v\n%s", err, stderr.Bytes())
			}
			var res cloudInitResult
			if err := json.Unmarshal(out, &res); err != nil {
				t.Fatalf("cloudinit_merge.py output: %v\n%s", err, out)
			}
			t.Logf("cloud-init %s; scripts-user runs %d scripts", res.Version, len(res.Scripts))
			if res.RunError != nil {
				t.Errorf("scripts-user failed: %s\n%s", *res.RunError, stderr.Bytes())
			}
			inScripts := 0
			for _, s := range res.Scripts {
				inScripts += strings.Count(s.Content, "/metadata/status/abc123")
			}
			if inScripts != 1 {
				t.Errorf("the report is in %d of the user scripts, want 1: %+v", inScripts, res.Scripts)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reports) != 1 {
				t.Fatalf("the region got %d reports, want 1; scripts %+v\n%s", len(reports), res.Scripts, stderr.Bytes())
			}
			var got, want map[string]any
			json.Unmarshal([]byte(reportBody), &want)
			if err := json.Unmarshal([]byte(reports[0].body), &got); err != nil || !equalJSON(got, want) {
				t.Errorf("report body %s, want %s", reports[0].body, reportBody)
			}
			for _, kv := range []string{`oauth_consumer_key="CK"`, `oauth_token="TK"`, `oauth_signature="%26TS"`, `oauth_signature_method="PLAINTEXT"`} {
				if !strings.Contains(reports[0].auth, kv) {
					t.Errorf("report Authorization %q lacks %s", reports[0].auth, kv)
				}
			}
			final, _ := os.ReadFile(log)
			for _, m := range c.markers {
				if n := strings.Count(string(final), m+"\n"); n != 1 {
					t.Errorf("the user's command %q ran %d times, want once; scripts %+v", m, n, res.Scripts)
				}
				if !strings.Contains(reports[0].logThen, m+"\n") {
					t.Errorf("the report ran before the user's command %q", m)
				}
			}
		})
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
