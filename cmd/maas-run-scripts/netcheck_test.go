package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"maasgo/internal/netnstest"
	"maasgo/scripts"
)

// runNetcheckCmd runs the netcheck command with args and returns its output and error.
func runNetcheckCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newNetcheckCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestNetcheckLoopback checks the command's lines, exit and result file through the
// loopback, the one interface every machine has (binding to it needs root).
func TestNetcheckLoopback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to bind sockets to an interface")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "maas_internet_connectivity_test" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	out, err := runNetcheckCmd(t, "--interface=lo", fmt.Sprintf("--url=127.0.0.1,tcp://127.0.0.1:%d,%s/x", port, srv.URL), "::1")
	if err != nil {
		t.Fatalf("netcheck: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`^OK  127\.0\.0\.1  \S+\nOK  tcp://127\.0\.0\.1:\d+  \S+\nOK  http://127\.0\.0\.1:\d+/x  \S+  \(HTTP 200\)\nOK  ::1  \S+\n$`)
	if !want.MatchString(out) {
		t.Errorf("output:\n%s", out)
	}

	out, err = runNetcheckCmd(t, "-i", "lo", "-u", fmt.Sprintf("tcp://127.0.0.1:%d", closedPort), "-u", srv.URL)
	if err == nil || err.Error() != "1 of 2 targets could not be reached through lo" ||
		!strings.HasPrefix(out, fmt.Sprintf("FAIL tcp://127.0.0.1:%d  dial tcp 127.0.0.1:%d: connect: connection refused\nOK  %s  ", closedPort, closedPort, srv.URL)) {
		t.Errorf("netcheck with a closed port: %v\n%s", err, out)
	}
}

// TestNetcheckSkipped checks that --gateways without a gateway marks the test skipped in the
// runner's result file and passes; the loopback has no gateway.
func TestNetcheckSkipped(t *testing.T) {
	result := filepath.Join(t.TempDir(), "gateway-connectivity.yaml")
	t.Setenv("RESULT_PATH", result)
	out, err := runNetcheckCmd(t, "--gateways", "--interface", "lo")
	if err != nil || out != "SKIP gateways  no IPv4 or IPv6 gateway is routed through lo\n" {
		t.Fatalf("netcheck: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(result); string(data) != "status: skipped\n" {
		t.Errorf("result file %q", data)
	}
	// A result file the script already wrote is left alone.
	if err := os.WriteFile(result, []byte("status: failed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runNetcheckCmd(t, "--gateways", "--interface", "lo"); err != nil || !strings.Contains(out, "is not empty") {
		t.Errorf("netcheck: %v\n%s", err, out)
	}
	if data, _ := os.ReadFile(result); string(data) != "status: failed\n" {
		t.Errorf("result file %q", data)
	}
}

func TestNetcheckUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "127.0.0.1", "--timeout", "0s"}, "--timeout 0s: want a positive duration"},
		{nil, "nothing to check"},
		{[]string{"--interface", "no-such-if0", "--url", "127.0.0.1"}, "find interface no-such-if0"},
	} {
		if _, err := runNetcheckCmd(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("netcheck %q: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestNetworkScriptsNetns runs the built-in network tests as the runner would, with this
// binary as the agent (MAAS_RUN_SCRIPTS), in a namespace of their own: a machine with m0
// (gateway 10.62.0.1, where a region answers on port 5240) and m2 (no gateway), and a router
// at the other ends. Real packets, none leaving the two namespaces.
func TestNetworkScriptsNetns(t *testing.T) {
	m, r := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, m, "m0", "10.62.0.2/24", r, "r0", "10.62.0.1/24")
	netnstest.Veth(t, m, "m2", "10.62.2.2/24", r, "r2", "10.62.2.1/24")
	m.IP(t, "route", "add", "default", "via", "10.62.0.1", "dev", "m0")
	// The router answers ARP only for the addresses of the link asked on, as separate
	// networks would: m2 must not reach 10.62.0.1.
	var ln net.Listener
	err := r.Do(func() (err error) {
		if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/arp_ignore", []byte("1"), 0o644); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", "10.62.0.1:5240")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/MAAS/" {
			http.NotFound(w, r)
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	agentPath := filepath.Join(dir, "agent")
	if err := os.WriteFile(agentPath, []byte(fmt.Sprintf("#!/bin/sh\n%s=1 exec %q \"$@\"\n", agentMainEnv, os.Args[0])), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(script string, args ...string) (string, string, error) {
		t.Helper()
		body, err := fs.ReadFile(scripts.FS(), "testing/"+script)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, script)
		if err := os.WriteFile(path, body, 0o755); err != nil {
			t.Fatal(err)
		}
		result := filepath.Join(dir, script+".yaml")
		os.Remove(result)
		cmd := exec.Command("ip", append([]string{"netns", "exec", m.Name, path}, args...)...)
		cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agentPath, "RESULT_PATH="+result, "MAAS_BASE_URL=http://10.62.0.1:5240",
			"http_proxy=", "https_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=")
		out, err := cmd.CombinedOutput()
		res, _ := os.ReadFile(result)
		return string(out), string(res), err
	}
	for _, tt := range []struct {
		script string
		args   []string
		fail   bool
		out    string // a regular expression the whole output matches
		result string
	}{
		{"gateway-connectivity", []string{"--interface=m0"}, false, `^OK  10\.62\.0\.1  \S+  \(gateway\)\n$`, ""},
		{"gateway-connectivity", []string{"--interface=m2"}, false, `^SKIP gateways  no IPv4 or IPv6 gateway is routed through m2\n$`, "status: skipped\n"},
		{"rack-controller-connectivity", []string{"--interface=m0"}, false, `^OK  http://10\.62\.0\.1:5240/MAAS/  \S+  \(HTTP 200\)\n$`, ""},
		{"rack-controller-connectivity", []string{"--interface=m2", "--timeout=1s"}, true, `^FAIL http://10\.62\.0\.1:5240/MAAS/  .*\nError: 1 of 1 targets could not be reached through m2\n$`, ""},
		{"internet-connectivity", []string{"--interface=m0", "--url=10.62.0.1,http://10.62.0.1:5240/MAAS/,tcp://10.62.0.1:5240"}, false,
			`^OK  10\.62\.0\.1  \S+\nOK  http://10\.62\.0\.1:5240/MAAS/  \S+  \(HTTP 200\)\nOK  tcp://10\.62\.0\.1:5240  \S+\n$`, ""},
		{"internet-connectivity", []string{"--interface=m0", "--url=http://10.62.0.1:5240/MAAS/,tcp://10.62.0.1:1"}, true,
			`^OK  http://10\.62\.0\.1:5240/MAAS/  \S+  \(HTTP 200\)\nFAIL tcp://10\.62\.0\.1:1  dial tcp 10\.62\.0\.1:1: connect: connection refused\nError: 1 of 2 targets could not be reached through m0\n$`, ""},
	} {
		out, res, err := run(tt.script, tt.args...)
		if (err != nil) != tt.fail || !regexp.MustCompile(tt.out).MatchString(out) || res != tt.result {
			t.Errorf("%s %q: %v, result file %q, output:\n%s", tt.script, tt.args, err, res, out)
		}
	}
}
