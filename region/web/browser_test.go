package web

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

const chromium = "/usr/bin/chromium"

// browser starts headless Chromium for the test, or skips it when Chromium is not installed.
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("browser tests skipped: %s is not installed (apt-get install chromium)", chromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

func must[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func steps(t *testing.T, ctx context.Context, what string, a ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, a...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sleepScript is a test that takes a while and prints hostile HTML.
func sleepScript(n int) string {
	return fmt.Sprintf("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# name: web-sleep-%d\n# script_type: testing\n"+
		"# --- End MAAS 1.0 script metadata ---\nsleep 2\necho 'hello from web-sleep-%d <b>not bold</b>'\n", n, n)
}

// TestBrowser drives headless Chromium against the real region binary and the real agent:
// an administrator logs in, uploads a script, watches a machine test live to Ready without
// reloading, opens a result's output and reads the timeline; a POST without its CSRF token
// is refused; a non-administrator sees no administrators' actions.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests skipped in -short mode")
	}
	ctx := browser(t)
	r := regiontest.Start(t, storetest.SQLite(t))
	admin := r.Client()
	base := strings.TrimSuffix(r.URL, "/MAAS")
	admin.Must(t, 200, "POST", "api/2.0/users/", url.Values{"username": {"root"}, "email": {"root@example.com"}, "password": {"root-password"}, "is_superuser": {"true"}})
	admin.Must(t, 200, "POST", "api/2.0/users/", url.Values{"username": {"viewer"}, "email": {"v@example.com"}, "password": {"viewer-password"}, "is_superuser": {"false"}})
	m := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"web1"}, "deployed": {"true"}, "architecture": {"amd64"}}).(map[string]any)
	id := m["system_id"].(string)
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"release"}})
	tok := admin.Must(t, 200, "GET", "api/2.0/machines/"+id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	dir := t.TempDir()
	creds := filepath.Join(dir, "creds.yaml")
	cfg := fmt.Sprintf("datasource:\n  MAAS:\n    metadata_url: %s/metadata/\n    consumer_key: %s\n    token_key: %s\n    token_secret: %s\n",
		r.URL, tok["consumer_key"], tok["token_key"], tok["token_secret"])
	if err := os.WriteFile(creds, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	upload := filepath.Join(dir, "web-sleep-1.sh")
	if err := os.WriteFile(upload, []byte(sleepScript(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := regiontest.Build(t, "maasgo/cmd/maas-run-scripts")

	// Logging in.
	steps(t, ctx, "log in as root",
		chromedp.Navigate(base+"/MAAS/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "root"),
		chromedp.SendKeys(chromedp.ID("password"), "root-password"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("admin-actions")),
	)
	if loc := must(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/MAAS/r/machines") {
		t.Errorf("after logging in the browser is at %s", loc)
	}

	// Every control of the pages has a label, and the tab key reaches the first one.
	for _, path := range []string{"/MAAS/r/machines", "/MAAS/r/scripts", "/MAAS/r/settings"} {
		steps(t, ctx, "open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
		unlabelled := must(t, ctx, "labels", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input:not([type=hidden]), select"))
			.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.name)`))
		if len(unlabelled) > 0 {
			t.Errorf("%s: controls without a label: %v", path, unlabelled)
		}
	}

	// Uploading a script through the form.
	steps(t, ctx, "upload a script",
		chromedp.Navigate(base+"/MAAS/r/scripts"),
		chromedp.SetUploadFiles(chromedp.ID("script-file"), []string{upload}),
		chromedp.SendKeys(chromedp.ID("script-comment"), "from the browser"),
		chromedp.Click(chromedp.ID("upload-submit")),
		chromedp.WaitVisible(chromedp.CSS("pre.output")),
	)
	if h1 := must(t, ctx, "script heading", chromedp.Text(chromedp.CSS("h1"))); h1 != "web-sleep-1" {
		t.Fatalf("after the upload the page is %q", h1)
	}
	for n := 2; n <= 3; n++ {
		admin.Must(t, 200, "POST", "api/2.0/scripts/", url.Values{"script": {sleepScript(n)}})
	}

	// A POST without its CSRF token, from the logged-in page: refused.
	status := must(t, ctx, "post without a token", chromedp.Evaluate[int](fmt.Sprintf(
		`fetch("/MAAS/r/machines/action", {method: "POST", body: new URLSearchParams({action: "abort", system_id: %q})}).then(r => r.status)`, id),
		chromedp.EvalAwaitPromise))
	if status != 403 {
		t.Errorf("POST without the CSRF token: %d; want 403", status)
	}

	// The machine tests live to Ready: the page is loaded once, the agent runs, and the page
	// follows without a reload.
	admin.Must(t, 200, "POST", "api/2.0/machines/"+id+"/", url.Values{"op": {"test"}, "testing_scripts": {"web-sleep-1,web-sleep-2,web-sleep-3"}})
	steps(t, ctx, "open the machine",
		chromedp.Navigate(base+"/MAAS/r/machines/"+id),
		chromedp.WaitVisible(chromedp.ID("machine-status")),
	)
	must(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.notReloaded = true`))
	actx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(actx, agent, "run", "--config", creds, filepath.Join(dir, "storage"))
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	agentDone := make(chan error, 1)
	go func() { agentDone <- cmd.Wait() }()
	seen := map[string]bool{}
	progressRE := regexp.MustCompile(`^\[[1-3]/3\] running web-sleep-[1-3]$`)
	deadline := time.Now().Add(45 * time.Second)
	var final string
	for time.Now().Before(deadline) {
		st := must(t, ctx, "read the page", chromedp.Evaluate[[]string](
			`[document.getElementById("machine-status").textContent, document.getElementById("progress").textContent.trim(), String(window.notReloaded)]`))
		if st[2] != "true" {
			t.Fatal("the page was reloaded")
		}
		if st[1] != "" {
			seen[st[1]] = true
		}
		if st[0] == "Ready" {
			final = st[0]
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := <-agentDone; err != nil {
		t.Errorf("agent: %v\n%s", err, out)
	}
	if final != "Ready" {
		t.Fatalf("the page never showed Ready; progress seen: %v\nagent:\n%s", seen, out)
	}
	t.Logf("progress lines the page showed: %v", seen)
	live := 0
	for s := range seen {
		if progressRE.MatchString(s) {
			live++
		}
	}
	if live < 2 {
		t.Errorf("the page showed %d distinct running steps (%v); want it to follow the scripts live", live, seen)
	}
	bars := must(t, ctx, "timeline", chromedp.Evaluate[[]string](
		`Array.from(document.querySelectorAll("svg.timeline g.bar")).map(g => g.getAttribute("data-script") + " " + g.getAttribute("class"))`))
	if strings.Join(bars, ",") != "web-sleep-1 bar bar-passed,web-sleep-2 bar bar-passed,web-sleep-3 bar bar-passed" {
		t.Errorf("timeline bars: %v", bars)
	}
	width := must(t, ctx, "bar width", chromedp.Evaluate[float64](`document.querySelector("svg.timeline g.bar rect").getBBox().width`))
	if width < 50 {
		t.Errorf("the first bar is %.0f wide; want about a third of the plot", width)
	}

	// A result's output, escaped.
	steps(t, ctx, "open an output",
		chromedp.Click(chromedp.CSS(`tr[data-result="web-sleep-2"] a`)),
		chromedp.WaitVisible(chromedp.ID("output")),
	)
	if text := must(t, ctx, "output text", chromedp.Text(chromedp.ID("output"))); !strings.Contains(text, "hello from web-sleep-2 <b>not bold</b>") {
		t.Errorf("output shows %q", text)
	}
	if n := must(t, ctx, "bold elements", chromedp.Evaluate[int](`document.querySelectorAll("#output b").length`)); n != 0 {
		t.Error("the output's HTML was rendered")
	}

	// A non-administrator sees no administrators' actions.
	steps(t, ctx, "log out and in as viewer",
		chromedp.Navigate(base+"/MAAS/r/machines"),
		chromedp.Click(chromedp.CSS(`form.logout button`)),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "viewer"),
		chromedp.SendKeys(chromedp.ID("password"), "viewer-password"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS("table.machines")),
	)
	for _, path := range []string{"/MAAS/r/machines", "/MAAS/r/machines/" + id, "/MAAS/r/scripts"} {
		steps(t, ctx, "open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("h1")))
		n := must(t, ctx, "admin controls", chromedp.Evaluate[int](
			`document.querySelectorAll("#admin-actions, #upload-form, input[name=system_id], a[href='/MAAS/r/settings']").length`))
		if n != 0 {
			t.Errorf("viewer sees %d administrators' controls on %s", n, path)
		}
	}
	if who := must(t, ctx, "who", chromedp.Text(chromedp.CSS(".who"))); who != "viewer" {
		t.Errorf("logged in as %q", who)
	}
}
