package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"maasgo/internal/netnstest"
	"maasgo/region/regiontest"
	"maasgo/scripts"
	"maasgo/wire"
)

// TestArgsForArgv0Subcommands checks that the scripts' subcommands reach the agent under
// the name the commissioning user data gives it, instead of being taken for run's storage
// directory.
func TestArgsForArgv0Subcommands(t *testing.T) {
	const argv0 = "/tmp/user_data.sh.X/bin/maas-run-remote-scripts"
	for _, args := range [][]string{{"lldp", "--wait", "1s"}, {"throughput", "run", "--interface", "eth0"}} {
		if diff := cmp.Diff(args, argsForArgv0(argv0, args)); diff != "" {
			t.Errorf("argsForArgv0(%q, %v) (-want +got):\n%s", argv0, args, diff)
		}
	}
}

func TestLLDPFlags(t *testing.T) {
	for _, o := range []lldpOpts{{wait: 0}, {wait: -time.Second}, {wait: time.Hour}} {
		if err := runLLDP(t.Context(), &bytes.Buffer{}, &bytes.Buffer{}, o); err == nil || !strings.Contains(err.Error(), "--wait") {
			t.Errorf("runLLDP(wait %s): %v, want a --wait error", o.wait, err)
		}
	}
}

// switchLLDPFrame is an LLDP frame as a switch port sends it, written out byte by byte:
// chassis MAC 02:00:5e:10:00:01, port "swp1", TTL 120, system name "leaf-1", port VLAN 42,
// End.
var switchLLDPFrame, _ = hex.DecodeString("0180c200000e" + "02005e100001" + "88cc" +
	"0207" + "04" + "02005e100001" + "0405" + "05" + "73777031" + "0602" + "0078" +
	"0a06" + "6c6561662d31" + "fe06" + "0080c2" + "01" + "002a" + "0000")

// agentAs installs the agent binary under name in a directory of its own, as the user data
// installs it, and returns its path.
func agentAs(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(regiontest.Build(t, "maasgo/cmd/maas-run-scripts"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// builtinScript writes a built-in script to a file and returns its path.
func builtinScript(t *testing.T, path string) string {
	t.Helper()
	body, err := fs.ReadFile(scripts.FS(), path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(p, body, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLLDPScriptNetns runs the maas-lldp-neighbours script as the runner does (the agent
// installed as maas-run-remote-scripts in MAAS_RUN_SCRIPTS) in a machine namespace whose
// eth0 is joined to a switch namespace that sends LLDP frames every 50 ms, and decodes its
// output as the region does.
func TestLLDPScriptNetns(t *testing.T) {
	machine, sw := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, machine, "eth0", "", sw, "swp1", "")
	netnstest.Veth(t, machine, "eth1", "", sw, "swp2", "")
	agent := agentAs(t, "maas-run-remote-scripts")
	script := builtinScript(t, "commissioning/maas-lldp-neighbours")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sent := make(chan error, 1)
	go func() { sent <- sendEvery(ctx, sw, "swp1", switchLLDPFrame, 50*time.Millisecond) }()

	run := func(args ...string) *wire.Neighbours {
		t.Helper()
		cmd := exec.Command("ip", append([]string{"netns", "exec", machine.Name, "sh", script}, args...)...)
		cmd.Env = append(os.Environ(), "MAAS_RUN_SCRIPTS="+agent)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("maas-lldp-neighbours %v: %v\n%s", args, err, stderr.String())
		}
		doc, err := wire.DecodeNeighbours(out)
		if err != nil {
			t.Fatalf("the region cannot read the output: %v\n%s", err, out)
		}
		return doc
	}
	got := run("--interface", "eth0", "--interface", "eth1", "--wait", "500ms")
	want := &wire.Neighbours{Interfaces: map[string][]wire.Neighbour{
		"eth0": {{ChassisID: "02:00:5e:10:00:01", ChassisIDType: "mac", PortID: "swp1", PortIDType: "interface_name",
			SystemName: "leaf-1", VLAN: 42, TTL: 120}},
		"eth1": {},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("neighbours (-want +got):\n%s", diff)
	}
	// Without --interface it listens on the physical interfaces that are up, and on veths
	// (a namespace's NICs, whose peer may be a switch port); lo is not listened on.
	if got := run("--wait", "500ms"); len(got.Interfaces) != 2 || len(got.Interfaces["eth0"]) != 1 {
		t.Errorf("neighbours without --interface: %+v, want eth0's and eth1's", got)
	}
	cancel()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}

// sendEvery sends frame on ifname in ns every interval until ctx ends.
func sendEvery(ctx context.Context, ns *netnstest.Netns, ifname string, frame []byte, interval time.Duration) error {
	var fd int
	var to unix.SockaddrLinklayer
	if err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		to = unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
		copy(to.Addr[:], frame[:6])
		return err
	}); err != nil {
		return err
	}
	defer unix.Close(fd)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := unix.Sendto(fd, frame, 0, &to); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
