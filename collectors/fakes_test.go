package collectors

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// fakeEthtool answers from maps; a missing entry answers EOPNOTSUPP, as a driver without
// the request would.
type fakeEthtool struct {
	drv      map[string]DriverInfo
	perm     map[string]string
	link     map[string]bool
	settings map[string]LinkSettings
	linkErr  map[string]error
}

func (f fakeEthtool) DriverInfo(n string) (DriverInfo, error) {
	if d, ok := f.drv[n]; ok {
		return d, nil
	}
	return DriverInfo{}, unix.EOPNOTSUPP
}

func (f fakeEthtool) PermAddr(n string) (string, error) {
	if p, ok := f.perm[n]; ok {
		return p, nil
	}
	return "", unix.EOPNOTSUPP
}

func (f fakeEthtool) LinkDetected(n string) (bool, error) {
	if err := f.linkErr[n]; err != nil {
		return false, err
	}
	if l, ok := f.link[n]; ok {
		return l, nil
	}
	return false, unix.EOPNOTSUPP
}

func (f fakeEthtool) LinkSettings(n string) (LinkSettings, error) {
	if s, ok := f.settings[n]; ok {
		return s, nil
	}
	return LinkSettings{}, unix.EOPNOTSUPP
}

type fakeNetlink struct {
	links []Link
	addrs []Addr
}

func (f fakeNetlink) Links() ([]Link, error) { return f.links, nil }
func (f fakeNetlink) Addrs() ([]Addr, error) { return f.addrs, nil }

type fakeHost struct{ u Uname }

func (f fakeHost) Uname() (Uname, error) { return f.u, nil }

func newTree(t *testing.T) tree { return tree{t, t.TempDir()} }

// run runs one collector on the tree with the given seams.
func (tr tree) run(c Collector, seams Seams) *schema.Document {
	tr.t.Helper()
	if seams.Host == nil {
		seams.Host = fakeHost{Uname{Sysname: "Linux", Release: "6.1.0-test", Machine: "x86_64", Hostname: "test"}}
	}
	if seams.Netlink == nil {
		seams.Netlink = fakeNetlink{}
	}
	if seams.Ethtool == nil {
		seams.Ethtool = fakeEthtool{}
	}
	doc := Run(context.Background(), NewEnv(RootsAt(tr.root), seams, nil, nil), []Collector{c})
	if len(doc.CollectorErrors) != 0 {
		tr.t.Fatalf("collector errors: %v", doc.CollectorErrors)
	}
	return doc
}
