package agent

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"maasgo/agent/netstate"
	"maasgo/wire"
)

// Network is the machine's network stack as the runner changes it: for configured networking
// (netconf.go: a snapshot, the netplan document applied without netplan, the snapshot
// restored) and for an aggregate's member rounds (aggregate.go: members taken out and put
// back). *netstate.Stack is the kernel's; tests replay recorded answers through a fake.
type Network interface {
	Take() (*netstate.State, error)
	Restore(*netstate.State) error
	Apply(ctx context.Context, doc *wire.Netplan, opt netstate.ApplyOptions) error
	SetLinkUp(name string, up bool) error
	BondSlaves(bond string) ([]string, error)
	ReleaseSlave(bond, slave string) error
	EnslaveSlave(bond, slave string) error
}

// networkState is a run's network stack, chosen once, and the locks of the aggregates'
// member rounds (aggregate.go), one per aggregate.
type networkState struct {
	once       sync.Once
	stack      Network
	mu         sync.Mutex
	aggregates map[string]*sync.Mutex
}

// network is the stack the run changes: Agent.Network, else the running kernel's when Roots
// read the running kernel's sysfs, else none (a machine tree elsewhere: configured networking
// is applied with netplan only, and aggregates are tested whole).
func (r *run) network() Network {
	r.net.once.Do(func() {
		switch {
		case r.a.Network != nil:
			r.net.stack = r.a.Network
		case r.a.Roots.Sys == "/sys":
			r.net.stack = &netstate.Stack{Bonding: netstate.SysfsBonding{Sys: r.a.Roots.Sys}}
		}
	})
	return r.net.stack
}

// netplanInstalled reports whether the machine has netplan (which then applies the configured
// networking, as upstream's runner has it do).
func (r *run) netplanInstalled() bool {
	if r.a.Roots.Root == "" {
		return false
	}
	for _, p := range []string{"usr/sbin/netplan", "sbin/netplan", "usr/bin/netplan", "bin/netplan"} {
		if fi, err := os.Stat(filepath.Join(r.a.Roots.Root, p)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}
