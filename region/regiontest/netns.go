package regiontest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
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
	n := reserveSubnet(t)
	id := fmt.Sprintf("%d%d", os.Getpid()%10000, rand.IntN(1000))
	ns := &Netns{Name: base.Name, HostIP: fmt.Sprintf("10.249.%d.%d", n/64, n%64*4+1),
		NsIP: fmt.Sprintf("10.249.%d.%d", n/64, n%64*4+2), NsLink: "eth0"}
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

// reserveSubnet picks one of the 16,384 /30 subnets of 10.249.0.0/16 that no other test holds,
// in this process or another (the packages' tests run side by side, and two host ends on one
// subnet make each other's traffic go astray), and holds it until the test ends. The hold is
// an flock on a file named for the subnet, which the kernel drops if the process dies.
func reserveSubnet(t testing.TB) int {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "maasgo-test-subnets")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("reserve a test subnet: %v", err)
	}
	for range 100 {
		n := rand.IntN(16384)
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(n)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("reserve a test subnet: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return n
	}
	t.Fatal("reserve a test subnet: 100 picks were all taken")
	return 0
}
