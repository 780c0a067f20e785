package regiontest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Netns is a network namespace of the test's own with one veth pair to the host: a machine
// whose scripts may send what they like (DHCP requests, link-local probes) without any of it
// leaving the pair. The region listens on HostIP; commands run inside with Command.
type Netns struct {
	Name   string
	HostIP string // the host's end, e.g. 10.249.17.1
	NsIP   string // the namespace's end
	NsLink string // the interface inside the namespace
}

// NewNetns makes a namespace and a veth pair on a private /30, and removes both when the test
// ends. It skips the test when not root or when ip is missing.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2) to create a network namespace")
	}
	n := rand.IntN(250) + 2
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, rand.IntN(1000))
	ns := &Netns{Name: "maasgo-" + id, HostIP: fmt.Sprintf("10.249.%d.1", n), NsIP: fmt.Sprintf("10.249.%d.2", n), NsLink: "eth0"}
	host := "mgh" + id
	peer := "mgp" + id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", ns.Name)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns.Name).Run()
	})
	run("link", "add", host, "type", "veth", "peer", "name", peer)
	run("link", "set", peer, "netns", ns.Name)
	run("addr", "add", ns.HostIP+"/30", "dev", host)
	run("link", "set", host, "up")
	run("-n", ns.Name, "link", "set", peer, "name", ns.NsLink)
	run("-n", ns.Name, "addr", "add", ns.NsIP+"/30", "dev", ns.NsLink)
	run("-n", ns.Name, "link", "set", ns.NsLink, "up")
	run("-n", ns.Name, "link", "set", "lo", "up")
	return ns
}

// Command runs name with args inside the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}
