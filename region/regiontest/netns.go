package regiontest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"

	"maasgo/internal/netnstest"
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

// NewNetns makes a namespace (netnstest.New) and a veth pair to the host on a private /30,
// and removes both when the test ends. It skips the test when not root or when ip is missing.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	base := netnstest.New(t)
	n := rand.IntN(250) + 2
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, rand.IntN(1000))
	ns := &Netns{Name: base.Name, HostIP: fmt.Sprintf("10.249.%d.1", n), NsIP: fmt.Sprintf("10.249.%d.2", n), NsLink: "eth0"}
	host := "mgh" + id
	peer := "mgp" + id
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
	netnstest.IP(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	netnstest.IP(t, "link", "set", peer, "netns", ns.Name)
	netnstest.IP(t, "addr", "add", ns.HostIP+"/30", "dev", host)
	netnstest.IP(t, "link", "set", host, "up")
	base.IP(t, "link", "set", peer, "name", ns.NsLink)
	base.IP(t, "addr", "add", ns.NsIP+"/30", "dev", ns.NsLink)
	base.IP(t, "link", "set", ns.NsLink, "up")
	return ns
}

// Command runs name with args inside the namespace.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}
