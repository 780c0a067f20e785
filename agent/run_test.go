package agent_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"maasgo/agent"
	"maasgo/agent/agenttest"
	"maasgo/agent/journal"
	"maasgo/wire"
)

// journalKeys returns the idempotency keys of every signal the run journaled.
func journalKeys(t *testing.T, storage, runID string) []string {
	t.Helper()
	j, err := journal.Open(filepath.Join(agent.RunDir(storage, runID), "journal"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var keys []string
	for _, r := range j.Records("signal") {
		keys = append(keys, agent.IdempotencyKey(runID, r.Seq))
	}
	return keys
}

// receivedKeys returns the keys of the signals a fake stored, with how often each came.
func receivedKeys(f *agenttest.Fake) map[string]int {
	m := map[string]int{}
	for _, r := range f.Received() {
		if r.Key != "" {
			m[r.Key]++
		}
	}
	return m
}

// checkExactlyOnce checks that the fake stored every journaled signal once, and each
// result once.
func checkExactlyOnce(t *testing.T, f *agenttest.Fake, storage, runID string) {
	t.Helper()
	got := receivedKeys(f)
	want := journalKeys(t, storage, runID)
	for _, k := range want {
		if got[k] != 1 {
			t.Errorf("signal %s stored %d times; want once", k, got[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("the region stored %d keyed signals; the journal has %d", len(got), len(want))
	}
	for _, r := range f.Results(t) {
		if r.Stores != 1 {
			t.Errorf("result %s (%d) stored %d times", r.Name, r.ID, r.Stores)
		}
	}
	if v := f.Violations(); len(v) > 0 {
		t.Errorf("wire-format violations: %v", v)
	}
}

func sleepers(n int, d string) []agenttest.Script {
	var out []agenttest.Script
	for i := 0; i < n; i++ {
		out = append(out, agenttest.Script{Body: agenttest.NewScript(fmt.Sprintf("t-%02d", i), wire.ScriptTypeTesting, "",
			"sleep "+d+"; echo done")})
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRegionStopsMidRun stops the region while scripts run, starts it again later, and loses
// answers on the way: every result still arrives, exactly once.
func TestRegionStopsMidRun(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, sleepers(6, "0.3")...)
	h := agenttest.NewHarness(t, f)
	type ret struct {
		sum agent.Summary
		err error
	}
	done := make(chan ret, 1)
	go func() {
		sum, err := h.Agent.Run(context.Background())
		done <- ret{sum, err}
	}()
	waitFor(t, "two results", func() bool { return len(receivedKeys(f)) >= 4 })
	f.Stop()
	time.Sleep(1500 * time.Millisecond) // two or three scripts finish meanwhile
	f.DropResponses(2)
	f.Start()
	r := <-done
	t.Logf("output:\n%s", h.Out.String())
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.sum.Unsent != 0 || r.sum.Final != wire.SignalOK {
		t.Errorf("unsent %d, final %q", r.sum.Unsent, r.sum.Final)
	}
	checkExactlyOnce(t, f, h.Storage, r.sum.RunID)
	if f.Duplicates() < 2 {
		t.Errorf("%d repeated keys; the two lost answers should have been retried", f.Duplicates())
	}
	for _, res := range f.Results(t) {
		if res.Status != wire.ScriptPassed {
			t.Errorf("%s: %s", res.Name, res.Status.Label())
		}
	}
	if st := f.NodeStatus(t); st != wire.NodeReady {
		t.Errorf("node %s; want Ready", st.Label())
	}
	if !strings.Contains(h.Log.String(), "retrying") {
		t.Error("no retry was logged")
	}
}

// TestOrderOfSignals checks the request sequence of a run with a commissioning and a
// testing script (protocol.md §6.2).
func TestOrderOfSignals(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("c-one", wire.ScriptTypeCommissioning, "", "true")},
		agenttest.Script{Body: agenttest.NewScript("t-one", wire.ScriptTypeTesting, "", "true")},
	)
	h := agenttest.NewHarness(t, f)
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.Received() {
		line := r.Get("status")
		if e := r.Get("error"); e != "" {
			line += " " + e
		}
		if len(r.Files) > 0 {
			line += " [" + strings.Join(r.Files, " ") + "]"
		}
		if r.Key == "" {
			continue // heartbeat
		}
		got = append(got, line)
	}
	want := []string{
		"WORKING Starting c-one (id: 1, script_version_id: 1001)",
		"WORKING Finished c-one (id: 1, script_version_id: 1001): 0 [c-one c-one.out c-one.err]",
		"TESTING",
		"WORKING Starting t-one (id: 2, script_version_id: 1002)",
		"WORKING Finished t-one (id: 2, script_version_id: 1002): 0 [t-one t-one.out t-one.err]",
		"OK All scripts successfully ran",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("signals:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if f.Downloads() != 2 {
		t.Errorf("%d downloads; want 2 (again after commissioning)", f.Downloads())
	}
	finished := f.Received()[2]
	if finished.Get("script_result_id") != "1" || finished.Get("exit_status") != "0" || finished.Get("name") != "c-one" ||
		finished.Get("script_version_id") != "1001" || finished.Get("runtime") == "" {
		t.Errorf("finish signal fields: %+v", finished.Fields)
	}
	var order []string
	for _, fl := range finished.Fields {
		order = append(order, fl.Name)
	}
	if want := "op status error script_result_id runtime exit_status name script_version_id"; strings.Join(order, " ") != want {
		t.Errorf("field order %q; want %q", strings.Join(order, " "), want)
	}
}

// TestNoSend checks that --no-send opens no connection at all, and that send uploads the
// journal later.
func TestNoSend(t *testing.T) {
	// A first run fills the storage directory with scripts.
	first := agenttest.NewFake(t)
	first.Offer(t, sleepers(2, "0")...)
	h := agenttest.NewHarness(t, first)
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}

	other := agenttest.NewFake(t)
	h2 := agenttest.NewHarness(t, other)
	h2.Agent.StorageDir = h.Storage
	h2.Agent.NoSend = true
	h2.Agent.Heartbeat = 10 * time.Millisecond
	sum, err := h2.Run(t)
	if err != nil {
		t.Fatal(err)
	}
	if n := other.Connections(); n != 0 {
		t.Fatalf("--no-send opened %d connections", n)
	}
	if len(sum.Outcomes) != 2 || sum.Unsent == 0 {
		t.Fatalf("%d outcomes, %d unsent", len(sum.Outcomes), sum.Unsent)
	}
	if !strings.Contains(h2.Out.String(), "maas-run-scripts send") {
		t.Errorf("the output does not say how to send the results")
	}

	sender := agenttest.NewHarness(t, other)
	sender.Agent.StorageDir = h.Storage
	reports, err := sender.Agent.Send(context.Background(), func(agent.RunInfo) (agent.Region, error) {
		return sender.Agent.Region, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range reports {
		total += r.Sent
		if r.Unsent != 0 {
			t.Errorf("run %s: %d unsent", r.RunID, r.Unsent)
		}
	}
	if total != sum.Unsent {
		t.Errorf("sent %d; want %d", total, sum.Unsent)
	}
	checkExactlyOnce(t, other, h.Storage, sum.RunID)
	// A second send has nothing left to do.
	reports, err = sender.Agent.Send(context.Background(), func(agent.RunInfo) (agent.Region, error) {
		return sender.Agent.Region, nil
	})
	if err != nil || reports[len(reports)-1].Sent != 0 {
		t.Errorf("second send: %+v, %v", reports, err)
	}
}

// TestNoDownload reruns the scripts of the storage directory without downloading them.
func TestNoDownload(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("c-count", wire.ScriptTypeCommissioning, "", `echo x >> "$DOWNLOAD_PATH/runs"`)},
		agenttest.Script{Body: agenttest.NewScript("t-count", wire.ScriptTypeTesting, "", `echo x >> "$DOWNLOAD_PATH/runs"`)},
	)
	h := agenttest.NewHarness(t, f)
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	again := agenttest.NewFake(t)
	h2 := agenttest.NewHarness(t, again)
	h2.Agent.StorageDir = h.Storage
	h2.Agent.NoDownload = true
	sum, err := h2.Run(t)
	if err != nil {
		t.Fatal(err)
	}
	if again.Downloads() != 0 {
		t.Errorf("--no-download downloaded %d times", again.Downloads())
	}
	// The last index listed only the testing script (commissioning had finished).
	if len(sum.Outcomes) != 1 || sum.Outcomes[0].Name != "t-count" {
		t.Errorf("outcomes %+v", sum.Outcomes)
	}
	data, _ := os.ReadFile(filepath.Join(h.Storage, "scripts", "downloads", "t-count", "runs"))
	if string(data) != "x\nx\n" {
		t.Errorf("t-count ran %q", data)
	}
	if sum.Final != wire.SignalOK || len(receivedKeys(again)) == 0 {
		t.Errorf("final %q, %d signals", sum.Final, len(receivedKeys(again)))
	}
}

// TestInterruptAndResume stops a run in the middle of a script and resumes it: the scripts
// that finished do not run again and nothing is sent twice.
func TestInterruptAndResume(t *testing.T) {
	f := agenttest.NewFake(t)
	var list []agenttest.Script
	for i := 0; i < 4; i++ {
		list = append(list, agenttest.Script{Body: agenttest.NewScript(fmt.Sprintf("t-%d", i), wire.ScriptTypeTesting, "",
			`echo x >> "$DOWNLOAD_PATH/runs"; echo "started=$HAS_STARTED"; sleep 0.4`)})
	}
	f.Offer(t, list...)
	h := agenttest.NewHarness(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := h.Agent.Run(ctx); done <- err }()
	waitFor(t, "the second script", func() bool {
		_, err := os.Stat(filepath.Join(h.Storage, "scripts", "downloads", "t-1", "runs"))
		return err == nil
	})
	cancel()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("interrupted run: %v", err)
	}
	h2 := agenttest.NewHarness(t, f)
	h2.Agent.StorageDir = h.Storage
	sum, err := h2.Agent.Resume(context.Background())
	t.Logf("resume output:\n%s", h2.Out.String())
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]string{}
	for i := 0; i < 4; i++ {
		b, _ := os.ReadFile(filepath.Join(h.Storage, "scripts", "downloads", fmt.Sprintf("t-%d", i), "runs"))
		runs[fmt.Sprintf("t-%d", i)] = string(b)
	}
	if runs["t-0"] != "x\n" || runs["t-1"] != "x\nx\n" || runs["t-2"] != "x\n" || runs["t-3"] != "x\n" {
		t.Errorf("runs per script: %q (t-0 finished, t-1 was interrupted)", runs)
	}
	res := agenttest.ByName(f.Results(t))
	if out := string(res["t-1"].Files["t-1.out"].Head); out != "started=True\n" {
		t.Errorf("the rerun script's HAS_STARTED: %q", out)
	}
	checkExactlyOnce(t, f, h.Storage, sum.RunID)
	if st := f.NodeStatus(t); st != wire.NodeReady {
		t.Errorf("node %s", st.Label())
	}
	// Resuming a finished run does nothing more.
	before := len(f.Received())
	h3 := agenttest.NewHarness(t, f)
	h3.Agent.StorageDir = h.Storage
	if _, err := h3.Agent.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Received()[before:] {
		if r.Key != "" {
			t.Errorf("a finished run sent %s %q again", r.Get("status"), r.Get("error"))
		}
	}
}

// TestHeartbeatAndSkew checks the WORKING heartbeat and the clock-skew correction.
func TestHeartbeatAndSkew(t *testing.T) {
	f := agenttest.NewFake(t)
	f.SetSkew(2 * time.Hour)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-slow", wire.ScriptTypeTesting, "", "sleep 0.5")})
	h := agenttest.NewHarness(t, f)
	h.Agent.Heartbeat = 100 * time.Millisecond
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	var beats []string
	for _, r := range f.Received() {
		if r.Key == "" && r.Get("status") == wire.SignalWorking {
			beats = append(beats, r.Get("error"))
		}
	}
	if len(beats) < 3 || beats[0] != "" || !strings.HasPrefix(beats[1], "Elapsed time (real): ") {
		t.Errorf("heartbeats: %q", beats)
	}
	if res := agenttest.ByName(f.Results(t))["t-slow"]; res.Status != wire.ScriptPassed {
		t.Errorf("t-slow %s", res.Status.Label())
	}
}

// TestNoShebang serves a script the kernel cannot execute: its result is FAILED, exit 2,
// with a message, and the runner goes on.
func TestNoShebang(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("t-noshebang", wire.ScriptTypeTesting, "", "echo hi"),
			Served: []byte("echo no shebang here\n")},
		agenttest.Script{Body: agenttest.NewScript("t-next", wire.ScriptTypeTesting, "", "true")},
	)
	h := agenttest.NewHarness(t, f)
	if _, err := h.Run(t); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v", err)
	}
	res := agenttest.ByName(f.Results(t))
	got := res["t-noshebang"]
	if got.Status != wire.ScriptFailed || got.ExitStatus == nil || *got.ExitStatus != 2 {
		t.Errorf("t-noshebang: %s exit %v", got.Status.Label(), got.ExitStatus)
	}
	if msg := string(got.Files["t-noshebang.err"].Head); !strings.Contains(msg, "no shebang") {
		t.Errorf("message %q", msg)
	}
	if res["t-next"].Status != wire.ScriptPassed {
		t.Errorf("t-next %s", res["t-next"].Status.Label())
	}
	for _, r := range f.Received() {
		if r.Get("script_result_id") == "1" && r.Get("exit_status") != "" && r.Get("error") != "Failed to execute t-noshebang (id: 1, script_version_id: 1001): 2" {
			t.Errorf("error text %q", r.Get("error"))
		}
	}
}

// TestOutputCap floods stdout past a small cap: the stored file keeps the head and the tail.
func TestOutputCap(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-flood", wire.ScriptTypeTesting, "",
		`echo FIRST; i=0; while [ $i -lt 20000 ]; do echo "line $i of the flood"; i=$((i+1)); done; echo LAST`)})
	h := agenttest.NewHarness(t, f)
	h.Agent.MaxOutput = 64 << 10
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(h.Storage, "out", "t-flood.1", "t-flood.out"))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 64<<10 || !strings.HasPrefix(string(data), "FIRST\n") || !strings.HasSuffix(string(data), "LAST\n") ||
		!strings.Contains(string(data), "bytes left out") {
		t.Errorf("capped output: %d bytes, head %q, tail %q", len(data), data[:20], data[len(data)-20:])
	}
	res := agenttest.ByName(f.Results(t))["t-flood"]
	if res.Files["t-flood.out"].Size != int64(len(data)) {
		t.Errorf("uploaded %d bytes; stored %d", res.Files["t-flood.out"].Size, len(data))
	}
}

// TestBMCConfig checks the power settings signal of a serial commissioning script.
func TestBMCConfig(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("c-bmc", wire.ScriptTypeCommissioning, "",
		`printf 'power_type: ipmi\npower_address: 10.0.0.9\npower_user: maas\npower_boot_type: 3\n' > "$BMC_CONFIG_PATH"`)})
	h := agenttest.NewHarness(t, f)
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range f.Received() {
		if r.Get("power_type") != "" {
			found = true
			if r.Get("power_type") != "ipmi" || r.Get("power_parameters") != `{"power_address": "10.0.0.9", "power_user": "maas", "power_boot_type": 3}` ||
				r.Get("error") != "BMC credentials reconfigured by c-bmc" {
				t.Errorf("bmc signal: %+v", r.Fields)
			}
		}
	}
	if !found {
		t.Error("no BMC signal")
	}
}

// TestNetconf applies configured networking with fake tools around a network script.
func TestNetconf(t *testing.T) {
	f := agenttest.NewFake(t)
	f.SetNetplan([]byte("network: {version: 2}\n"))
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-net", wire.ScriptTypeTesting,
		"hardware_type: network\napply_configured_networking: true\nparameters: {interface: {type: interface}}",
		`ls /nonexistent-to-fail 2>/dev/null; exit 3`),
		Results: []map[string]wire.ResolvedParam{{"interface": {Type: "interface",
			Value: map[string]any{"id": 1, "name": "eth0", "mac_address": "52:54:00:12:34:56", "vendor": "v", "product": "p"}}}}})
	h := agenttest.NewHarness(t, f)
	root := filepath.Dir(h.Agent.Roots.Sys)
	mustWrite(t, filepath.Join(root, "etc", "netplan", "50-cloud-init.yaml"),
		"network:\n  ethernets:\n    ens3:\n      match: {macaddress: '52:54:00:12:34:56'}\n      set-name: ens3\n      dhcp4: true\n")
	mustWrite(t, filepath.Join(root, "sys", "class", "net", "ens3", "address"), "52:54:00:12:34:56\n")
	mustWrite(t, filepath.Join(root, "sys", "class", "net", "ens3", "operstate"), "down\n")
	// The machine has netplan (the fake commands play it).
	mustWrite(t, filepath.Join(root, "usr", "sbin", "netplan"), "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(root, "usr", "sbin", "netplan"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmds := &agenttest.FakeCommands{}
	h.Agent.Commands = cmds
	if _, err := h.Run(t); !errors.Is(err, agent.ErrScriptsFailed) {
		t.Fatalf("run: %v", err)
	}
	lines := strings.Join(cmds.Lines(), "\n")
	for _, want := range []string{"ip link set down ens3", "netplan apply --debug", "systemctl is-active --quiet systemd-networkd.service"} {
		if strings.Count(lines, want) != 2 {
			t.Errorf("%q not run twice (apply, restore):\n%s", want, lines)
		}
	}
	// The ephemeral configuration is back, the backup gone.
	if _, err := os.Stat(filepath.Join(root, "etc", "netplan", "50-cloud-init.yaml")); err != nil {
		t.Errorf("ephemeral netplan not restored: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc", "netplan", "netplan.yaml")); !os.IsNotExist(err) {
		t.Errorf("configured netplan left behind: %v", err)
	}
	var statuses []string
	for _, r := range f.Received() {
		if r.Get("status") == wire.SignalApplyingNetconf {
			statuses = append(statuses, r.Get("error"))
		}
	}
	want := []string{"Applying custom network configuration for t-net (id: 1, script_version_id: 1001)",
		"User netplan config applied", "ephemeral netplan applied"}
	if strings.Join(statuses, "|") != strings.Join(want, "|") {
		t.Errorf("APPLYING_NETCONF signals %q", statuses)
	}
	res := agenttest.ByName(f.Results(t))["t-net"]
	if y := string(res.Files["t-net.yaml"].Head); y != "link_connected: false\n" {
		t.Errorf("link_connected not reported: %q", y)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRelistedCommissioning checks that a region listing finished commissioning results
// again does not make the runner loop or run them twice.
func TestRelistedCommissioning(t *testing.T) {
	f := agenttest.NewFake(t)
	f.RelistCommissioning()
	f.Offer(t,
		agenttest.Script{Body: agenttest.NewScript("c-once", wire.ScriptTypeCommissioning, "", `echo x >> "$DOWNLOAD_PATH/runs"`)},
		agenttest.Script{Body: agenttest.NewScript("t-after", wire.ScriptTypeTesting, "", "true")},
	)
	h := agenttest.NewHarness(t, f)
	sum, err := h.Run(t)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(h.Storage, "scripts", "downloads", "c-once", "runs")); string(b) != "x\n" {
		t.Errorf("c-once ran %q", b)
	}
	if len(sum.Outcomes) != 2 || f.Downloads() != 2 || f.NodeStatus(t) != wire.NodeReady {
		t.Errorf("%d outcomes, %d downloads, node %s", len(sum.Outcomes), f.Downloads(), f.NodeStatus(t).Label())
	}
}

// TestURLPackages downloads URL packages with (a fake) wget: a tar is unpacked into
// DOWNLOAD_PATH, a .deb goes through dpkg and apt-get.
func TestURLPackages(t *testing.T) {
	f := agenttest.NewFake(t)
	f.Offer(t, agenttest.Script{Body: agenttest.NewScript("t-url", wire.ScriptTypeTesting,
		"packages: {url: ['http://example.com/tool.tar', 'http://example.com/x.deb']}",
		`cat "$DOWNLOAD_PATH/tool/README"`)})
	h := agenttest.NewHarness(t, f)
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	tw.WriteHeader(&tar.Header{Name: "tool/README", Mode: 0o644, Size: 9})
	tw.Write([]byte("unpacked\n"))
	tw.Close()
	wget := func(argv []string) error { // wget URL -P DIR
		name := filepath.Join(argv[3], filepath.Base(argv[1]))
		if strings.HasSuffix(name, ".tar") {
			return os.WriteFile(name, tarball.Bytes(), 0o644)
		}
		return os.WriteFile(name, []byte("!<arch>\n"), 0o644)
	}
	cmds := &agenttest.FakeCommands{Rules: []agenttest.CommandRule{{Match: "wget", Do: wget}}}
	h.Agent.Commands = &savingTo{FakeCommands: cmds}
	if _, err := h.Run(t); err != nil {
		t.Fatal(err)
	}
	res := agenttest.ByName(f.Results(t))["t-url"]
	if res.Status != wire.ScriptPassed || string(res.Files["t-url.out"].Head) != "unpacked\n" {
		t.Errorf("t-url: %s, output %q", res.Status.Label(), res.Files["t-url.out"].Head)
	}
	lines := strings.Join(cmds.Lines(), "\n")
	for _, want := range []string{"wget http://example.com/tool.tar -P ", "wget http://example.com/x.deb -P ", "dpkg -i ",
		"apt-get install -qyf --no-install-recommends"} {
		if !strings.Contains(lines, want) {
			t.Errorf("%q not run:\n%s", want, lines)
		}
	}
}

// savingTo adds wget's "Saving to:" line for the file it fetched.
type savingTo struct{ *agenttest.FakeCommands }

func (s *savingTo) Run(ctx context.Context, argv, env []string, stdout, stderr io.Writer) (int, error) {
	rc, err := s.FakeCommands.Run(ctx, argv, env, stdout, stderr)
	if err == nil && argv[0] == "wget" {
		fmt.Fprintf(stderr, "Saving to: ‘%s’\n", filepath.Join(argv[3], filepath.Base(argv[1])))
	}
	return rc, err
}

// TestMetadataClientAgainstFake checks signing, the 401 answer and the download of 204.
func TestMetadataClientAgainstFake(t *testing.T) {
	f := agenttest.NewFake(t)
	u, _ := agent.MetadataURL(f.MetadataURL(), agent.DefaultAPIVersion)
	c := agent.NewRegion(agent.Endpoint{MetadataURL: u, Credentials: wire.Credentials{ConsumerKey: "CKEY", TokenKey: "TKEY", TokenSecret: "wrong"}}, 0)
	err := c.Signal(context.Background(), agent.Signal{Status: wire.SignalWorking}, "")
	var he *agent.HTTPError
	if !errors.As(err, &he) || he.StatusCode != 401 {
		t.Fatalf("wrong secret: %v", err)
	}
	c = agent.NewRegion(agent.Endpoint{MetadataURL: u, Credentials: f.Credentials()}, 0)
	body, ok, err := c.Scripts(context.Background())
	if err != nil || ok || body != nil {
		t.Fatalf("nothing to run: %v %v %v; want 204", body, ok, err)
	}
}
