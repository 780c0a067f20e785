package api

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/wire"
	"maasgo/wire/evidence"
)

// signingKeyName is where the region keeps its bundle signing key (the ed25519 seed, base64)
// in the config table. It is no setting: get_config does not know the name.
const signingKeyName = "evidence_signing_key"

// signingKey reads the region's signing key, making it on first use. Regions sharing a
// database share it: the first to store one wins.
func (s *Server) signingKey(ctx context.Context) (ed25519.PrivateKey, error) {
	var seed string
	err := s.store.View(ctx, func(tx *store.Tx) (err error) {
		seed, _, err = tx.Config(signingKeyName)
		return err
	})
	if err != nil {
		return nil, err
	}
	if seed == "" {
		fresh := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(fresh); err != nil {
			return nil, fmt.Errorf("make the bundle signing key: %w", err)
		}
		err = s.store.Update(ctx, func(tx *store.Tx) error {
			have, ok, err := tx.Config(signingKeyName)
			if err != nil || ok {
				seed = have
				return err
			}
			seed = base64.StdEncoding.EncodeToString(fresh)
			return tx.SetConfig(signingKeyName, seed)
		})
		if err != nil {
			return nil, fmt.Errorf("store the bundle signing key: %w", err)
		}
	}
	b, err := base64.StdEncoding.DecodeString(seed)
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, errors.New("the stored bundle signing key is damaged")
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// exportKey answers op=export_key: the public key evidence bundles are signed with.
func exportKey(req *request) (any, error) {
	// The key is the region's, but the route is a machine's: who may not see the machine
	// is refused here as everywhere under it.
	if _, err := req.machine(); err != nil {
		return nil, err
	}
	key, err := req.s.signingKey(req.ctx)
	if err != nil {
		return nil, err
	}
	pub := key.Public().(ed25519.PublicKey)
	return map[string]string{"algorithm": "ed25519", "public_key": evidence.EncodeKey(pub), "fingerprint": evidence.Fingerprint(pub)}, nil
}

// bundleResult is one result of an export, planned without its outputs.
type bundleResult struct {
	id  int64
	run string
	res evidence.Result
}

// bundleExport is a planned evidence bundle; it streams itself after the handler returned,
// reading one result's outputs at a time, like a result download (download.go).
type bundleExport struct {
	s       *Server
	key     ed25519.PrivateKey
	root    string
	at      time.Time
	m       evidence.Manifest
	results []bundleResult
}

// exportResults answers op=export: a signed evidence bundle (tar.xz) of the machine's
// current commissioning, testing and installation runs.
func exportResults(req *request) (any, error) {
	key, err := req.s.signingKey(req.ctx)
	if err != nil {
		return nil, err
	}
	now := req.s.now().UTC().Truncate(time.Second)
	d := &bundleExport{s: req.s, key: key, at: now}
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		name, _ := config.Get(tx, "maas_name")
		d.root = evidence.SafeName(m.Hostname, maxHostComponent) + "-evidence-" + now.Format("20060102T150405Z")
		d.m = evidence.Manifest{Generator: fmt.Sprintf("maas-region %s (%v)", req.s.opts.Version, name), Generated: now,
			Machine: evidence.Machine{SystemID: m.SystemID, Hostname: m.Hostname, Architecture: m.Architecture, Status: m.Status.Label(),
				CPUCount: m.CPUCount, Memory: m.Memory, HardwareUUID: m.HardwareUUID, HardwareInfo: m.HardwareInfo}}
		disks, err := tx.BlockDevices(m.ID)
		if err != nil {
			return err
		}
		for _, b := range disks[m.ID] {
			d.m.Machine.Disks = append(d.m.Machine.Disks, evidence.Disk{Name: b.Name, Model: b.Model, Serial: b.Serial, Size: b.Size})
		}
		ifaces, err := tx.Interfaces(m.ID)
		if err != nil {
			return err
		}
		for _, i := range ifaces[m.ID] {
			if i.Type == "physical" {
				d.m.Machine.Interfaces = append(d.m.Machine.Interfaces, evidence.Interface{Name: i.Name, MACAddress: i.MACAddress,
					LinkConnected: i.LinkConnected, LinkSpeed: i.LinkSpeed, InterfaceSpeed: i.InterfaceSpeed})
			}
		}
		var sets []store.ScriptSet
		for _, id := range []*int64{m.CurrentCommissioningSet, m.CurrentTestingSet, m.CurrentInstallationSet} {
			if id == nil {
				continue
			}
			set, err := tx.ScriptSetByID(*id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			sets = append(sets, *set)
		}
		by, v, err := resultsOf(tx, m, sets, false)
		if err != nil {
			return err
		}
		for _, set := range sets {
			run := strings.ToLower(set.Type.Label()) + "-" + strconv.FormatInt(set.ID, 10)
			rs := by[set.ID]
			sort.SliceStable(rs, func(i, j int) bool { return v.sortKey(&rs[i]) < v.sortKey(&rs[j]) })
			for _, r := range rs {
				res := evidence.Result{ID: r.ID, Run: run, Name: r.ScriptName, Status: r.Status.Label(), Failed: r.Status.Failed(),
					Skipped: r.Status == wire.ScriptSkipped, ExitStatus: r.ExitStatus, Started: r.Started, Ended: r.Ended,
					Suppressed: r.Suppressed, Files: []string{}}
				if r.ScriptVersionID != nil {
					res.Revision = *r.ScriptVersionID
				}
				if r.Started != nil && r.Ended != nil {
					res.Runtime = r.Ended.Sub(*r.Started).Seconds()
				}
				if r.BlockDeviceID != nil {
					res.Device = v.disks[*r.BlockDeviceID].Name
				} else if r.InterfaceID != nil {
					res.Device = v.ifaces[*r.InterfaceID].Name
				}
				d.results = append(d.results, bundleResult{id: r.ID, run: run, res: res})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// stream writes the bundle (streamHeavy).
func (d *bundleExport) stream(w http.ResponseWriter, r *http.Request) {
	d.s.streamHeavy(w, r, "application/x-xz", d.root+".tar.xz", "evidence bundle", d.write)
}

// bundleParts are the outputs a bundle holds of each result, by suffix.
var bundleParts = []string{"", ".out", ".err", ".yaml"}

func (d *bundleExport) write(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	xw := newXZWriter(bw, xzCompressBudget, xzLZMA)
	bundle := evidence.NewWriter(xw, d.root, d.at)
	dl := &resultDownload{s: d.s}
	for _, br := range d.results {
		r, err := dl.load(ctx, br.id)
		if err != nil {
			return err
		}
		if r == nil {
			continue // deleted since the bundle was planned
		}
		name := br.res.Name
		if br.res.Device != "" {
			name += "-" + br.res.Device
		}
		for _, kind := range bundleParts {
			data := partData(r, kind)
			if kind != "" && len(data) == 0 {
				continue
			}
			p, err := bundle.AddOutput(br.run, name+kind, data)
			if err != nil {
				return err
			}
			br.res.Files = append(br.res.Files, p)
		}
		d.m.Results = append(d.m.Results, br.res)
	}
	if err := bundle.Close(&d.m, d.key); err != nil {
		return err
	}
	if err := xw.Close(); err != nil {
		return fmt.Errorf("close xz of %s: %w", d.root, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write the bundle %s: %w", d.root, err)
	}
	return nil
}
