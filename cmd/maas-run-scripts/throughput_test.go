package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maasgo/internal/netnstest"
	"maasgo/wire"
)

func TestThroughputPeer(t *testing.T) {
	for _, tt := range []struct{ peer, region, want, wantErr string }{
		{peer: "10.0.0.5:6000", want: "10.0.0.5:6000"},
		{peer: "peer.example", want: "peer.example:5249"},
		{peer: "2001:db8::5", want: "[2001:db8::5]:5249"},
		{peer: "[2001:db8::5]", want: "[2001:db8::5]:5249"},
		{region: "http://10.0.0.2:5240/MAAS", want: "10.0.0.2:5249"},
		{region: "http://[fd00::2]:5240", want: "[fd00::2]:5249"},
		{peer: "10.0.0.5", region: "http://10.0.0.2:5240", want: "10.0.0.5:5249"},
		{wantErr: "no peer"},
		{region: "not a url", wantErr: "want a URL with a host"},
	} {
		got, err := throughputPeer(tt.peer, tt.region)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("throughputPeer(%q, %q) = %q, %v; want %q, %q", tt.peer, tt.region, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestThroughputScriptNetns runs the network-throughput script as the runner does, in a
// machine namespace, against "maas-run-scripts throughput serve" in a peer namespace over a
// veth pair: the result file gives both figures with the link speed the agent read; with
// a link speed above what a veth can do (the test seam) the in-process command writes a
// degraded result; with the server gone the script fails and says why.
func TestThroughputScriptNetns(t *testing.T) {
	machine, peer := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, machine, "eth0", "10.250.3.2/30", peer, "peer0", "10.250.3.1/30")
	agent := agentAs(t, "maas-run-remote-scripts")
	script := builtinScript(t, "testing/network-throughput")

	server := exec.Command("ip", "netns", "exec", peer.Name, agent, "throughput", "serve", "--listen", "10.250.3.1:5249")
	stdout, err := server.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serverLog bytes.Buffer
	server.Stderr = &serverLog
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	stopServer := func() {
		if server.Process != nil && server.ProcessState == nil {
			server.Process.Signal(os.Interrupt)
			server.Wait()
		}
	}
	t.Cleanup(stopServer)
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || !strings.Contains(line, "listening on 10.250.3.1:5249") {
		t.Fatalf("server: %q %v\n%s", line, err, serverLog.String())
	}

	resultPath := filepath.Join(t.TempDir(), "network-throughput.yaml")
	runScript := func() ([]byte, error) {
		cmd := exec.Command("ip", "netns", "exec", machine.Name, "sh", script,
			"--interface=eth0", "--min-fraction=0.0001", "--duration=300ms")
		cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agent, "RESULT_PATH="+resultPath,
			"MAAS_BASE_URL=http://10.250.3.1:5240")
		return cmd.CombinedOutput()
	}
	out, err := runScript()
	if err != nil {
		t.Fatalf("network-throughput: %v\n%s\nserver:\n%s", err, out, serverLog.String())
	}
	data, err := os.ReadFile(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	res, err := wire.ParseResult(data)
	if err != nil || res == nil || res.Status == nil || *res.Status != wire.ScriptPassed {
		t.Fatalf("result %+v %v, want passed:\n%s\n%s", res, err, data, out)
	}
	for _, k := range []string{"send_mbps", "receive_mbps"} {
		if v, ok := res.Results[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive figure:\n%s", k, res.Results[k], data)
		}
	}
	t.Logf("output:\n%s", out)

	// The same from the command in-process, with a link speed no veth reaches.
	err = machine.Do(func() error {
		return runThroughput(t.Context(), &bytes.Buffer{}, throughputRunOpts{
			iface: "eth0", peer: "10.250.3.1", direction: "both", duration: 300 * time.Millisecond, minFraction: 0.7,
			resultPath: resultPath, linkSpeed: func(string) (uint64, error) { return 100_000_000, nil },
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(resultPath)
	if res, err := wire.ParseResult(data); err != nil || res.Status == nil || *res.Status != wire.ScriptDegraded ||
		res.Results["link_speed"] != int64(100_000_000) || res.Results["min_mbps"] != float64(70_000_000) {
		t.Errorf("result with a 100 Tbit/s link: %+v %v, want degraded with the figures:\n%s", res, err, data)
	}

	stopServer()
	os.Remove(resultPath)
	out, err = runScript()
	if err == nil || !strings.Contains(string(out), "from eth0 to 10.250.3.1:5249") || !strings.Contains(string(out), "connection refused") {
		t.Errorf("network-throughput with the server gone: %v, want a failure naming the peer:\n%s", err, out)
	}
	if _, err := os.Stat(resultPath); err == nil {
		t.Error("a result file was written although nothing was measured")
	}
}
