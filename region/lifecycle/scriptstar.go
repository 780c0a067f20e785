package lifecycle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"maasgo/region/store"
	"maasgo/wire"
)

// Scripts is what a machine downloads as its maas-scripts tar: the scripts it should run, the
// output of those that already ran in this run (a rerun with --no-download keeps them), and
// its interfaces for the configured networking.
type Scripts struct {
	Pending    []Pending
	Outputs    map[int64]*store.ScriptResult // by result id
	Machine    *store.Machine
	Interfaces []store.Interface
}

// LoadScripts reads what machine id downloads now.
func LoadScripts(tx *store.Tx, id int64) (*Scripts, error) {
	m, err := tx.MachineByID(id)
	if err != nil {
		return nil, err
	}
	s := &Scripts{Outputs: map[int64]*store.ScriptResult{}, Machine: m}
	if s.Pending, err = PendingScripts(tx, m); err != nil {
		return nil, err
	}
	for _, p := range s.Pending {
		if p.Result.Status != wire.ScriptPending {
			r, err := tx.ScriptResultByID(p.Result.ID, true)
			if err != nil {
				return nil, err
			}
			s.Outputs[r.ID] = r
		}
	}
	all, err := tx.Interfaces(m.ID)
	s.Interfaces = all[m.ID]
	return s, err
}

// Tar writes the ustar archive of protocol.md §4.2: the scripts, index.json, the outputs kept
// under out/, and ../config/netplan.yaml when a script applies the configured networking.
func (s *Scripts) Tar(now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: now.Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s into the scripts tar: %w", name, err)
		}
		_, err := tw.Write(data)
		return err
	}
	var index wire.Index
	written := map[string]bool{}
	netconf := false
	for _, p := range s.Pending {
		switch p.List {
		case "commissioning_scripts":
			index.V1.Commissioning = append(index.V1.Commissioning, p.Entry)
		case "testing_scripts":
			index.V1.Testing = append(index.V1.Testing, p.Entry)
		case "release_scripts":
			index.V1.Release = append(index.V1.Release, p.Entry)
		}
		netconf = netconf || p.Script.ApplyConfiguredNetworking
		if !written[p.Entry.Path] {
			written[p.Entry.Path] = true
			if err := add(p.Entry.Path, 0o755, p.Version.Data); err != nil {
				return nil, err
			}
		}
		if r := s.Outputs[p.Result.ID]; r != nil {
			base := fmt.Sprintf("out/%s.%d", p.Entry.Name, r.ID)
			for _, f := range []struct {
				suffix string
				data   []byte
			}{{"", r.Output}, {".out", r.Stdout}, {".err", r.Stderr}, {".yaml", r.Result}} {
				if err := add(base+f.suffix, 0o644, f.data); err != nil {
					return nil, err
				}
			}
		}
	}
	idx, err := json.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("encode index.json: %w", err)
	}
	if err := add("index.json", 0o644, idx); err != nil {
		return nil, err
	}
	if netconf {
		np, err := Netplan(s.Machine, s.Interfaces)
		if err != nil {
			return nil, err
		}
		if err := add("../config/netplan.yaml", 0o644, np); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the scripts tar: %w", err)
	}
	return buf.Bytes(), nil
}
