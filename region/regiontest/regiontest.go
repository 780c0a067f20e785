// Package regiontest runs the real maas-region binary for integration tests: built once per
// test process, served on a free loopback port over a fresh database of the chosen engine,
// with an administrator whose API key signs the test's requests.
package regiontest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maasgo/client"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// built remembers the binaries compiled by this test process.
var built struct {
	sync.Mutex
	bins map[string]string
}

// Build compiles a command of this module (e.g. "maasgo/cmd/maas-region") once per test
// process, statically as `make build` does, and returns the binary's path. Binaries live in
// the user's cache directory, replaced atomically, so test processes running side by side
// never see a half-written one and nothing piles up in /tmp.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if bin, ok := built.bins[pkg]; ok {
		return bin
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	// One directory per checkout: two checkouts testing side by side must not run each
	// other's builds.
	dir := filepath.Join(cache, "maasgo-test-bin", checkoutKey())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("make build directory: %v", err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-o", tmp, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatalf("install %s: %v", out, err)
	}
	if built.bins == nil {
		built.bins = map[string]string{}
	}
	built.bins[pkg] = out
	return out
}

// checkoutKey names the checkout the test runs in: a short hash of its module root (the
// directory holding go.mod above the working directory).
func checkoutKey() string {
	dir, err := os.Getwd()
	if err != nil {
		return "unknown"
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			dir = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:6])
}

// Region is a running maas-region.
type Region struct {
	// URL is the region's base, http://127.0.0.1:PORT/MAAS.
	URL string
	// Admin is the administrator's API key.
	Admin  wire.Credentials
	Engine storetest.Engine
	// TLS checks the certificate of a region serving HTTPS (StartTLS); nil for plain HTTP.
	TLS      *tls.Config
	t        testing.TB
	bin      string
	args     []string
	cmd      *exec.Cmd
	logs     *syncBuffer
	waitDone chan error
}

// Start serves a region on loopback over the engine's database. Extra arguments go to `serve`.
func Start(t testing.TB, e storetest.Engine, args ...string) *Region {
	t.Helper()
	return StartListening(t, e, "127.0.0.1:0", args...)
}

// StartListening serves a region on addr (host:0 picks a free port), e.g. a Netns's HostIP.
func StartListening(t testing.TB, e storetest.Engine, addr string, args ...string) *Region {
	t.Helper()
	return StartTLS(t, e, nil, addr, args...)
}

// StartTLS serves a region on addr whose certificate tc checks: args give serve its
// --tls-cert and --tls-key, and the region's requests (Client, the wait for it to answer)
// go through tc. A nil tc is StartListening.
func StartTLS(t testing.TB, e storetest.Engine, tc *tls.Config, addr string, args ...string) *Region {
	t.Helper()
	r := &Region{Engine: e, t: t, bin: Build(t, "maasgo/cmd/maas-region"), args: args, TLS: tc}
	r.start(addr)
	t.Cleanup(func() {
		if r.cmd != nil {
			r.Stop()
		}
		if t.Failed() {
			t.Logf("maas-region logs:\n%s", r.logs.String())
		}
	})
	return r
}

func (r *Region) start(listen string) {
	t := r.t
	t.Helper()
	args := append([]string{"serve", "--listen", listen, "--state-dir", r.Engine.StateDir, "--create-admin", "admin", "--log-level", "debug"}, r.args...)
	if r.Engine.DSN != "" {
		args = append(args, "--database", r.Engine.DSN)
	}
	cmd := exec.Command(r.bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if r.logs == nil {
		r.logs = &syncBuffer{}
	}
	cmd.Stderr = r.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start maas-region: %v", err)
	}
	r.cmd = cmd
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var url, key string
		for sc.Scan() {
			line := sc.Text()
			r.logs.Write([]byte(line + "\n"))
			switch {
			case strings.HasPrefix(line, "MAAS region at "):
				url = strings.TrimPrefix(line, "MAAS region at ")
			case strings.HasPrefix(line, "API key:"):
				key = strings.TrimSpace(strings.TrimPrefix(line, "API key:"))
				creds, err := wire.ParseCredentials(key)
				if err == nil {
					r.URL, r.Admin = url, creds
				}
				found <- err
			}
		}
		found <- fmt.Errorf("maas-region exited before printing its API key")
	}()
	r.waitDone = make(chan error, 1)
	go func() { r.waitDone <- cmd.Wait() }()
	select {
	case err := <-found:
		if err != nil {
			t.Fatalf("maas-region: %v\n%s", err, r.logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("maas-region did not start within 60 s\n%s", r.logs.String())
	}
	// Wait until it answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := r.HTTPClient().Get(r.URL + "/api/2.0/version/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("maas-region does not answer at %s: %v\n%s", r.URL, err, r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (r *Region) Stop() {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.waitDone:
		if err != nil {
			r.t.Errorf("maas-region did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		r.cmd.Process.Kill()
		r.t.Errorf("maas-region ignored SIGTERM for 30 s")
	}
	r.cmd = nil
}

// Restart stops the region and starts it again on the same port and database.
func (r *Region) Restart() {
	r.t.Helper()
	u, err := url.Parse(r.URL)
	if err != nil {
		r.t.Fatal(err)
	}
	r.Stop()
	r.start(u.Host)
}

// Pid is the running region's process id.
func (r *Region) Pid() int { return r.cmd.Process.Pid }

// Logs returns what the region wrote so far.
func (r *Region) Logs() string { return r.logs.String() }

// Client signs requests with the administrator's key.
func (r *Region) Client() *Client { return &Client{Base: r.URL, Creds: r.Admin, HTTP: r.HTTPClient()} }

// HTTPClient is an HTTP client for the region: it checks the certificate with r.TLS.
func (r *Region) HTTPClient() *http.Client {
	if r.TLS == nil {
		return http.DefaultClient
	}
	return client.NewHTTPClient(client.Options{TLS: r.TLS})
}

// Client makes signed requests to a region, through maasgo/client, one attempt each: a test
// sees every answer as the region gave it.
type Client struct {
	Base  string // http://host:port/MAAS
	Creds wire.Credentials
	// Header, when set, is added to every request.
	Header http.Header
	// HTTP sends the requests; nil: http.DefaultClient.
	HTTP *http.Client
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body.
func (r *Response) JSON(t testing.TB) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("response is not JSON (%d %s): %v", r.Status, r.Body, err)
	}
	return v
}

// Do sends method path (relative to Base, e.g. "api/2.0/machines/") with form as the query
// (GET, DELETE) or the urlencoded body (POST, PUT).
func (c *Client) Do(t testing.TB, method, path string, form url.Values) *Response {
	t.Helper()
	r := &client.Request{Method: method, URL: strings.TrimSuffix(c.Base, "/") + "/" + strings.TrimPrefix(path, "/")}
	if method == http.MethodGet || method == http.MethodDelete {
		if len(form) > 0 {
			sep := "?"
			if strings.Contains(r.URL, "?") {
				sep = "&"
			}
			r.URL += sep + form.Encode()
		}
	} else if form != nil {
		r.Body = client.Form(form)
	}
	req, err := r.HTTP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Send(t, req)
}

// Send signs req (PLAINTEXT, as upstream's clients do; none for empty credentials, so a
// test may sign req itself), sends it once and reads the answer.
func (c *Client) Send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := client.New(c.Creds, c.HTTP).Send(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must sends like Do and fails the test unless the status is want; it returns the body
// decoded as JSON when the response is JSON.
func (c *Client) Must(t testing.TB, want int, method, path string, form url.Values) any {
	t.Helper()
	r := c.Do(t, method, path, form)
	if r.Status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return r.JSON(t)
	}
	return string(r.Body)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// AgentDir puts this build of the agent where a region looks for it (--agent-dir), named
// for the machine's architecture as make build names it, and returns the directory and the
// binary's SHA-256.
func AgentDir(t testing.TB) (dir, sha string) {
	t.Helper()
	bin := Build(t, "maasgo/cmd/maas-run-scripts")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "maas-run-scripts-linux-"+runtime.GOARCH), b, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return dir, hex.EncodeToString(sum[:])
}
