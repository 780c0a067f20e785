package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"maasgo/collectors/schema"
)

// Version is reported as environment.server_version; the build may set it with -X.
var Version = "dev"

// Env is what a collector reads from: the machine's filesystem trees and the seams. Values
// that several collectors need (uname, links, id databases) are computed once.
type Env struct {
	FS    *FS
	Seams Seams
	Roots Roots
	Log   *slog.Logger

	unameDone bool
	uname     Uname
	unameErr  error

	linksDone bool
	links     []Link
	linksErr  error

	ids *idsDB
}

// NewEnv returns an Env over roots and seams, recording into rec when it is not nil.
func NewEnv(roots Roots, seams Seams, rec *Recorder, log *slog.Logger) *Env {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs := NewFS(roots, rec)
	return &Env{FS: fs, Seams: seams, Roots: roots, Log: log, ids: newIDsDB(fs)}
}

// Uname returns the kernel's uname answer, asked once.
func (e *Env) Uname() (Uname, error) {
	if !e.unameDone {
		e.unameDone = true
		if e.Seams.Host == nil {
			e.unameErr = fmt.Errorf("no host source")
		} else {
			e.uname, e.unameErr = e.Seams.Host.Uname()
		}
	}
	return e.uname, e.unameErr
}

// Links returns the netlink link list, asked once.
func (e *Env) Links() ([]Link, error) {
	if !e.linksDone {
		e.linksDone = true
		if e.Seams.Netlink == nil {
			e.linksErr = fmt.Errorf("no netlink source")
		} else {
			e.links, e.linksErr = e.Seams.Netlink.Links()
		}
	}
	return e.links, e.linksErr
}

// Collector fills its part of the document. A collector that fails returns an error and
// leaves the document's part for it as it was (empty lists, zero values).
type Collector interface {
	Name() string
	Collect(ctx context.Context, env *Env, doc *schema.Document) error
}

// NewDocument returns a document with the fixed host information and empty lists, the state
// in which collectors start and in which a failed collector leaves its part.
func NewDocument() *schema.Document {
	return &schema.Document{
		APIExtensions: append([]string(nil), schema.APIExtensions...),
		APIVersion:    schema.APIVersion,
		Resources: schema.Resources{
			CPU:     schema.CPU{Sockets: []schema.CPUSocket{}},
			GPU:     schema.GPU{Cards: []schema.GPUCard{}},
			Network: schema.Network{Cards: []schema.NetworkCard{}},
			Storage: schema.Storage{Disks: []schema.StorageDisk{}},
			USB:     schema.USB{Devices: []schema.USBDevice{}},
			PCI:     schema.PCI{Devices: []schema.PCIDevice{}},
		},
		Networks: map[string]schema.NetworkState{},
	}
}

// Run runs every collector in order on env. One collector's failure is recorded in
// doc.CollectorErrors and does not stop the others.
func Run(ctx context.Context, env *Env, list []Collector) *schema.Document {
	doc := NewDocument()
	for _, c := range list {
		if err := ctx.Err(); err != nil {
			setErr(doc, c.Name(), err)
			continue
		}
		start := time.Now()
		err := c.Collect(ctx, env, doc)
		env.Log.Debug("collector finished", "collector", c.Name(), "duration", time.Since(start), "error", err)
		if err != nil {
			setErr(doc, c.Name(), err)
		}
	}
	return doc
}

func setErr(doc *schema.Document, name string, err error) {
	if doc.CollectorErrors == nil {
		doc.CollectorErrors = map[string]string{}
	}
	doc.CollectorErrors[name] = fmt.Sprintf("%s: %v", name, err)
}

// Collect runs all collectors (see Default) on roots and seams.
func Collect(ctx context.Context, roots Roots, seams Seams, rec *Recorder, log *slog.Logger) *schema.Document {
	return Run(ctx, NewEnv(roots, seams, rec, log), Default())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
