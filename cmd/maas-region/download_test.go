package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"maasgo/region/lifecycle"
	"maasgo/region/regiontest"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestDownloadHostileAndLarge stores results with hostile names and a 12 MiB output in the
// database of a running region (as a machine could have uploaded them) and downloads them
// through it: the tar.xz has one directory of safely named regular files, is a valid .xz
// past the part the region compresses, and the text download streams the output unchanged.
func TestDownloadHostileAndLarge(t *testing.T) {
	e := storetest.SQLite(t)
	r := regiontest.Start(t, e)
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	big := bigOutput(12<<20, 3)
	var system string
	var setID int64
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		admin, err := tx.UserByName("admin")
		if err != nil {
			return err
		}
		m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "plain", Deployed: true, Architecture: "amd64",
			MACs: []string{"02:00:00:00:00:07"}}, admin)
		if err != nil {
			return err
		}
		set := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultTesting}
		if err := tx.CreateScriptSet(set); err != nil {
			return err
		}
		m.Hostname, m.CurrentTestingSet = "../../evil/host", &set.ID
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		system, setID = m.SystemID, set.ID
		disk := &store.BlockDevice{NodeID: m.ID, Name: "../../sda", Size: 1 << 30, BlockSize: 512}
		if err := tx.CreateBlockDevice(disk); err != nil {
			return err
		}
		for _, sr := range []*store.ScriptResult{
			{ScriptName: "../../../../../../../../tmp/big", Output: big, Stdout: []byte("out\n")},
			{ScriptName: "smartctl\n..", Output: []byte("disk ok\n"), BlockDeviceID: &disk.ID},
		} {
			sr.SetID, sr.Status = set.ID, wire.ScriptPassed
			if err := tx.CreateScriptResult(sr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("store results: %v", err)
	}
	admin := r.Client()
	base := fmt.Sprintf("api/2.0/nodes/%s/results/%d/", system, setID)
	resp := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "output": {"all"}, "filetype": {"tar.xz"}})
	root := fmt.Sprintf(".._.._evil_host-testing-%d", setID)
	if resp.Status != 200 || resp.Header.Get("Content-Type") != "application/x-tar" ||
		resp.Header.Get("Content-Disposition") != fmt.Sprintf("attachment; filename=%q", root+".tar.xz") {
		t.Fatalf("tar.xz: %d %v %.200q", resp.Status, resp.Header, resp.Body)
	}
	xr, err := xz.NewReader(bytes.NewReader(resp.Body))
	if err != nil {
		t.Fatalf("not xz: %v", err)
	}
	tr := tar.NewReader(xr)
	got := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Errorf("%q is of type %c", h.Name, h.Typeflag)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = b
	}
	want := map[string][]byte{
		".._.._.._.._.._.._.._.._tmp_big":      big,
		".._.._.._.._.._.._.._.._tmp_big.out":  []byte("out\n"),
		".._.._.._.._.._.._.._.._tmp_big.err":  {},
		".._.._.._.._.._.._.._.._tmp_big.yaml": {},
		"smartctl_..-.._.._sda":                []byte("disk ok\n"),
		"smartctl_...out-.._.._sda":            {},
		"smartctl_...err-.._.._sda":            {},
		"smartctl_...yaml-.._.._sda":           {},
	}
	if len(got) != len(want) {
		t.Errorf("members %q; want %d", keys(got), len(want))
	}
	for name, data := range want {
		if b, ok := got[root+"/"+name]; !ok || !bytes.Equal(b, data) {
			t.Errorf("member %s: present %v, %d bytes; want %d", root+"/"+name, ok, len(b), len(data))
		}
	}
	if _, err := exec.LookPath("tar"); err == nil {
		path := filepath.Join(t.TempDir(), "r.tar.xz")
		os.WriteFile(path, resp.Body, 0o644)
		if out, err := exec.Command("tar", "-tJf", path).CombinedOutput(); err != nil {
			t.Errorf("tar -tJf: %v\n%s", err, out)
		}
	}
	txt := admin.Do(t, "GET", base, url.Values{"op": {"download"}, "filters": {"../../../../../../../../tmp/big"}})
	if txt.Status != 200 || !bytes.Equal(txt.Body, big) {
		t.Errorf("txt of the large output: %d, %d bytes; want %d", txt.Status, len(txt.Body), len(big))
	}
	all := admin.Do(t, "GET", base, url.Values{"op": {"download"}})
	if title := "smartctl?.. - /dev/../../sda"; !strings.Contains(string(all.Body), " "+title+" ") {
		t.Errorf("txt of every output lacks the title %q", title)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// bigOutput is n bytes of log lines with, every fiftieth line, some random bytes.
func bigOutput(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := bytes.NewBuffer(make([]byte, 0, n+1024))
	for i := 0; b.Len() < n; i++ {
		if i%50 == 49 {
			for range 300 {
				b.WriteByte(byte(r.Uint32()))
			}
			b.WriteByte('\n')
			continue
		}
		fmt.Fprintf(b, "[%8d.%06d] sd 0:0:0:0: [sda] read sector %d ok\n", i/100, r.IntN(1000000), r.Uint64()%(1<<30))
	}
	return b.Bytes()[:n]
}
