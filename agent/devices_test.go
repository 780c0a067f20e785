package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"maasgo/collectors"
	"maasgo/collectors/schema"
	"maasgo/wire"
)

// TestResolveReplaysFromSnapshot resolves a storage parameter for every disk and an
// interface parameter for every port of each fixture machine, first on the machine's tree
// while recording what the resolver reads, then on the snapshot of that recording: the
// arguments, the errors and the list of what was found are the same.
func TestResolveReplaysFromSnapshot(t *testing.T) {
	roots, err := filepath.Glob("../testdata/machines/*/root")
	if err != nil || len(roots) == 0 {
		t.Fatalf("no fixture machines: %v", err)
	}
	for _, root := range roots {
		machine := filepath.Base(filepath.Dir(root))
		t.Run(machine, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(filepath.Dir(root), "machine-resources.json"))
			if err != nil {
				t.Fatal(err)
			}
			var doc schema.Document
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			scripts, want := deviceScripts(doc)

			rec := collectors.NewRecorder()
			got := resolveAll(&resolver{roots: collectors.RootsAt(root), rec: rec}, scripts)
			for i, w := range want {
				if w != "" && got[i] != w {
					t.Errorf("%s on the tree: %s; want %s", scripts[i].Name, got[i], w)
				}
			}

			var tarball bytes.Buffer
			if err := rec.WriteTar(&tarball); err != nil {
				t.Fatal(err)
			}
			snap := t.TempDir()
			if err := collectors.UnpackSnapshot(&tarball, snap); err != nil {
				t.Fatal(err)
			}
			replayed := resolveAll(&resolver{roots: collectors.RootsAt(snap)}, scripts)
			if diff := cmp.Diff(got, replayed); diff != "" {
				t.Errorf("tree vs snapshot (-tree +snapshot):\n%s", diff)
			}
		})
	}
}

// deviceScripts makes one script a disk with a storage parameter naming it as the region
// does (model, serial, id_path), and one a port with an interface parameter naming its MAC.
// want holds the argument expected for a disk the tree must find by model and serial.
func deviceScripts(doc schema.Document) (scripts []*Script, want []string) {
	for _, d := range doc.Resources.Storage.Disks {
		v := map[string]any{"id": 1, "name": d.ID, "model": d.Model, "serial": d.Serial, "id_path": ""}
		if d.DeviceID != "" {
			v["id_path"] = "/dev/disk/by-id/" + d.DeviceID
		}
		s := &Script{}
		s.Name = "storage " + d.ID
		s.Parameters = map[string]wire.ResolvedParam{"storage": {Type: "storage", Value: v}}
		scripts = append(scripts, s)
		w := ""
		if d.Model != "" && d.Serial != "" {
			w = "/x --storage=/dev/" + d.ID
		}
		want = append(want, w)
	}
	for _, c := range doc.Resources.Network.Cards {
		for _, p := range c.Ports {
			s := &Script{}
			s.Name = "interface " + p.ID
			s.Parameters = map[string]wire.ResolvedParam{"interface": {Type: "interface",
				Value: map[string]any{"id": 2, "name": p.ID, "mac_address": p.Address, "vendor": c.Vendor, "product": c.Product}}}
			scripts = append(scripts, s)
			want = append(want, "")
		}
	}
	return scripts, want
}

// resolveAll resolves each script and returns its argv or error, then what the resolver
// found.
func resolveAll(r *resolver, scripts []*Script) []string {
	var out []string
	for _, s := range scripts {
		inv, err := r.resolve(s, "/x")
		if err != nil {
			out = append(out, fmt.Sprintf("error: %v", err))
			continue
		}
		out = append(out, strings.Join(inv.Argv, " "))
	}
	return append(out, r.describe())
}
