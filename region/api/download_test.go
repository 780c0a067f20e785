package api

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
	"maasgo/wire/evidence"
)

// dlFixture is a region with one machine whose commissioning set holds the given results.
type dlFixture struct {
	srv    *Server
	http   *httptest.Server
	st     *store.Store
	key    wire.Credentials
	system string
	setID  int64
}

// dlResult is a result to store: its script name, outputs and optional disk or interface.
type dlResult struct {
	name                   string
	output, stdout, stderr string
	disk, iface            string
}

func newDLFixture(t testing.TB, hostname string, opts Options, results ...dlResult) *dlFixture {
	t.Helper()
	e := storetest.SQLite(t)
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &dlFixture{st: st}
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		u := &store.User{Username: "admin", IsAdmin: true}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		tok := store.NewToken(store.TokenUser)
		tok.UserID = &u.ID
		f.key = wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}
		if err := tx.CreateToken(tok); err != nil {
			return err
		}
		m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "plain", Deployed: true, Architecture: "amd64",
			MACs: []string{"02:00:00:00:00:01"}}, u)
		if err != nil {
			return err
		}
		m.Hostname = hostname // stored as a machine could have it, past any validation
		set := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultCommissioning}
		if err := tx.CreateScriptSet(set); err != nil {
			return err
		}
		f.system, f.setID = m.SystemID, set.ID
		m.CurrentCommissioningSet = &set.ID
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		for _, r := range results {
			sr := &store.ScriptResult{SetID: set.ID, ScriptName: r.name, Status: wire.ScriptPassed,
				Output: []byte(r.output), Stdout: []byte(r.stdout), Stderr: []byte(r.stderr), Result: []byte("status: passed\n")}
			if r.disk != "" {
				b := &store.BlockDevice{NodeID: m.ID, Name: r.disk, Size: 1 << 30, BlockSize: 512}
				if err := tx.CreateBlockDevice(b); err != nil {
					return err
				}
				sr.BlockDeviceID = &b.ID
			}
			if r.iface != "" {
				i := &store.Interface{NodeID: m.ID, Name: r.iface, MACAddress: fmt.Sprintf("02:00:00:00:01:%02x", len(r.iface))}
				if err := tx.CreateInterface(i); err != nil {
					return err
				}
				sr.InterfaceID = &i.ID
			}
			if err := tx.CreateScriptResult(sr); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("store fixture: %v", err)
	}
	f.srv = New(st, opts)
	f.http = httptest.NewServer(f.srv)
	t.Cleanup(f.http.Close)
	return f
}

// get downloads the set's results with the given query.
func (f *dlFixture) get(t testing.TB, query string) (*http.Response, []byte) {
	t.Helper()
	return f.request(t, "GET", query)
}

func (f *dlFixture) request(t testing.TB, method, query string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, fmt.Sprintf("%s/MAAS/api/2.0/nodes/%s/results/%d/?op=download&%s", f.http.URL, f.system, f.setID, query), nil)
	req.Header.Set("Authorization", f.key.AuthorizationHeader(time.Now()))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download %s: %v", query, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read download %s: %v", query, err)
	}
	return resp, body
}

type member struct {
	hdr  *tar.Header
	data string
}

func readTarXZ(t *testing.T, body []byte) []member {
	t.Helper()
	xr, err := xz.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not xz: %v", err)
	}
	tr := tar.NewReader(xr)
	var out []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("read tar member %q: %v", h.Name, err)
		}
		out = append(out, member{h, string(b)})
	}
}

// safeName reports why name is not one safe path component, or "".
func safeName(name string) string {
	switch {
	case name == "" || name == "." || name == "..":
		return "empty or a dot name"
	case strings.ContainsAny(name, "/\\"):
		return "has a separator"
	case !utf8.ValidString(name):
		return "invalid UTF-8"
	case len(name) > 255:
		return "longer than 255 bytes"
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("has control character %U", r)
		}
	}
	return ""
}

func TestDownloadNamesStayInside(t *testing.T) {
	escape := filepath.Join(os.TempDir(), fmt.Sprintf("maasgo-escape-%d", rand.Int64()))
	t.Cleanup(func() { os.Remove(escape) })
	hostile := []dlResult{
		{name: strings.Repeat("../", 30) + strings.TrimPrefix(escape, "/"), output: "escaped\n"},
		{name: "..", output: "dotdot\n"},
		{name: ".", output: "dot\n"},
		{name: "/etc/passwd", output: "absolute\n"},
		{name: "sub/dir", output: "slashed\n"},
		{name: "sub_dir", output: "plain twin\n"},
		{name: "ctl\x00nul\nline\x1b[2J\u202e", output: "control\n"},
		{name: "bad\xff\xfeutf8", output: "invalid\n"},
		{name: strings.Repeat("long", 300), output: "long\n"},
		{name: "smartctl", output: "disk\n", disk: "../../../sda"},
		{name: "ping", output: "nic\n", iface: "eth0/../../.."},
		{name: "dump.tar.gz", output: "\x00\x01binary"},
	}
	f := newDLFixture(t, "../../../etc\x1b/host", Options{}, hostile...)
	resp, body := f.get(t, "output=all&filetype=tar.xz")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("tar.xz: %d %s %.200q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	members := readTarXZ(t, body)
	// Four outputs of each result, one of the binary one.
	if want := 4*(len(hostile)-1) + 1; len(members) != want {
		t.Errorf("%d members; want %d", len(members), want)
	}
	root := ""
	seen := map[string]bool{}
	contents := map[string]bool{}
	for _, m := range members {
		name := m.hdr.Name
		if m.hdr.Typeflag != tar.TypeReg {
			t.Errorf("%q is of type %c, not a regular file", name, m.hdr.Typeflag)
		}
		parts := strings.Split(name, "/")
		if len(parts) != 2 {
			t.Errorf("%q is not one file under one directory", name)
			continue
		}
		for _, p := range parts {
			if why := safeName(p); why != "" {
				t.Errorf("%q: component %q %s", name, p, why)
			}
		}
		if root == "" {
			root = parts[0]
		} else if parts[0] != root {
			t.Errorf("%q is not under the one top-level directory %q", name, root)
		}
		if seen[name] {
			t.Errorf("%q appears twice", name)
		}
		seen[name] = true
		contents[m.data] = true
	}
	if want := fmt.Sprintf(".._.._.._etc__host-commissioning-%d", f.setID); root != want {
		t.Errorf("top-level directory %q; want %q", root, want)
	}
	for _, r := range hostile {
		if !contents[r.output] {
			t.Errorf("the output of %.40q is missing", r.name)
		}
	}
	if disp := resp.Header.Get("Content-Disposition"); disp != fmt.Sprintf("attachment; filename=%q", root+".tar.xz") {
		t.Errorf("Content-Disposition %q", disp)
	}

	// Python's tarfile, with the trust that versions before 3.14 give every archive, writes
	// nothing outside the directory it extracts to.
	base := t.TempDir()
	archive := filepath.Join(base, "results.tar.xz")
	if err := os.WriteFile(archive, body, 0o644); err != nil {
		t.Fatal(err)
	}
	into := filepath.Join(base, "into", "here")
	if err := os.MkdirAll(into, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 missing: the extraction half is skipped")
	}
	script := `import sys, tarfile
kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
tarfile.open(sys.argv[1]).extractall(sys.argv[2], **kw)`
	if out, err := exec.Command("python3", "-c", script, archive, into).CombinedOutput(); err != nil {
		t.Fatalf("python3 tarfile extractall: %v\n%s", err, out)
	}
	if _, err := os.Stat(escape); err == nil {
		t.Errorf("extraction wrote %s", escape)
	}
	n := 0
	filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			t.Errorf("walk: %v", err)
			return nil
		}
		rel, _ := filepath.Rel(into, path)
		inside := rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
		if !inside && path != base && path != archive && path != filepath.Dir(into) {
			t.Errorf("extraction wrote %s, outside %s", path, into)
		}
		if inside && d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if n != len(members) {
		t.Errorf("extracted %d files; want %d", n, len(members))
	}
	for _, tool := range [][]string{{"xz", "-t", archive}, {"tar", "-tJf", archive}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			continue
		}
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(tool, " "), err, out)
		}
	}
}

func TestSafeComponent(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello-commission", "hello-commission"},
		{"", "_"},
		{".", "_."},
		{"..", "_.."},
		{"...", "_..."},
		{"../../x", ".._.._x"},
		{"/etc/passwd", "_etc_passwd"},
		{`a\b`, "a_b"},
		{"a\x00b\nc\x7f", "a_b_c_"},
		{"rtl\u202eexe", "rtl_exe"},
		{"bad\xffutf8", "bad_utf8"},
		{"ünïcode", "ünïcode"},
		{strings.Repeat("x", 300), strings.Repeat("x", 128)},
		{strings.Repeat("é", 100), strings.Repeat("é", 64)}, // cut at a rune boundary
	} {
		got := evidence.SafeName(tc.in, 128)
		if got != tc.want {
			t.Errorf("SafeName(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if why := safeName(got); why != "" {
			t.Errorf("SafeName(%q) = %q, which %s", tc.in, got, why)
		}
	}
}

func TestDownloadText(t *testing.T) {
	f := newDLFixture(t, "host", Options{},
		dlResult{name: "a\nforged ---", output: "first", stdout: "out\n"},
		dlResult{name: "smartctl", output: "disk ok\n", disk: "sda"},
		dlResult{name: "dump.tar", output: "\x00binary"},
	)
	resp, body := f.get(t, "filters=smartctl")
	if resp.StatusCode != 200 || string(body) != "disk ok\n" || resp.Header.Get("Content-Type") != "application/binary" {
		t.Errorf("one part: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// HEAD answers as GET does, without the body.
	if resp, body := f.request(t, "HEAD", "filters=smartctl"); resp.StatusCode != 200 || len(body) != 0 || resp.Header.Get("Content-Type") != "application/binary" {
		t.Errorf("HEAD: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	_, body = f.get(t, "output=combined")
	dash := func(title string) string {
		d := strings.Repeat("-", (80-(len(title)+2))/2)
		return d + " " + title + " " + d + "\n"
	}
	want := dash("a?forged ---") + "first\n" + dash("dump.tar") + "Binary file\n" + dash("smartctl - /dev/sda") + "disk ok\n"
	if string(body) != want {
		t.Errorf("combined text:\n%s\nwant:\n%s", body, want)
	}
	// The slot is given back after each download.
	if n := len(f.srv.heavy); n != 0 {
		t.Errorf("%d download slots still taken", n)
	}
}

func TestDownloadSlots(t *testing.T) {
	defer func(w time.Duration) { heavyWait = w }(heavyWait)
	heavyWait = 300 * time.Millisecond
	f := newDLFixture(t, "host", Options{MaxHeavyDownloads: 1}, dlResult{name: "x", output: "x\n"})
	f.srv.heavy <- struct{}{} // a download in progress
	start := time.Now()
	resp, body := f.get(t, "filetype=tar.xz")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "retry") {
		t.Errorf("busy: %d Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if d := time.Since(start); d < heavyWait {
		t.Errorf("refused after %v, before waiting %v", d, heavyWait)
	}
	// A slot that frees while a download waits serves it.
	go func() {
		time.Sleep(heavyWait / 3)
		<-f.srv.heavy
	}()
	if resp, body := f.get(t, "filetype=tar.xz"); resp.StatusCode != 200 || len(readTarXZ(t, body)) != 1 {
		t.Errorf("after a slot freed: %d %.100q", resp.StatusCode, body)
	}
	if resp, _ := f.get(t, "filetype=txt"); resp.StatusCode != 200 {
		t.Errorf("after a download ended: %d", resp.StatusCode)
	}
}

// TestDownloadPastBudget streams outputs larger than the compression budget: one .xz with a
// compressed block and a block of uncompressed chunks, read back whole.
func TestDownloadPastBudget(t *testing.T) {
	defer func(b int64) { xzCompressBudget = b }(xzCompressBudget)
	xzCompressBudget = 100 << 10
	big := string(scriptOutput(700<<10, 1))
	f := newDLFixture(t, "host", Options{},
		dlResult{name: "big", output: big, stdout: big[:300<<10]},
		dlResult{name: "small", output: "small\n"})
	resp, body := f.get(t, "output=all&filetype=tar.xz")
	if resp.StatusCode != 200 {
		t.Fatalf("tar.xz: %d %.200q", resp.StatusCode, body)
	}
	got := map[string]string{}
	for _, m := range readTarXZ(t, body) {
		got[strings.SplitN(m.hdr.Name, "/", 2)[1]] = m.data
	}
	if got["big"] != big || got["big.out"] != big[:300<<10] || got["small"] != "small\n" {
		t.Errorf("members differ: big %d bytes, big.out %d, small %q", len(got["big"]), len(got["big.out"]), got["small"])
	}
	if len(body) < 700<<10 {
		t.Errorf("%d bytes: the part past the budget should be stored, not compressed", len(body))
	}
	xzTools(t, body)
}

// xzTools checks b with xz(1) and tar(1) when they are installed.
func xzTools(t *testing.T, b []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.tar.xz")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tool := range [][]string{{"xz", "-t", path}, {"tar", "-tJf", path}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			t.Logf("%s missing: not checked with it", tool[0])
			continue
		}
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(tool, " "), err, out)
		}
	}
}

func TestXZWriter(t *testing.T) {
	data := scriptOutput(300<<10, 2)
	for _, tc := range []struct {
		name   string
		size   int
		budget int64
		writes int // split the data into this many writes
	}{
		{"empty", 0, 1 << 20, 1},
		{"one byte stored", 1, 0, 1},
		{"compressed only", len(data), 1 << 20, 7},
		{"stored only", len(data), 0, 3},
		{"exact chunk", xzChunk, 0, 1},
		{"budget at a write boundary", len(data), int64(len(data) / 2), 2},
		{"budget inside a write", len(data), 12345, 1},
		{"many small writes", 200 << 10, 50 << 10, 997},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := data[:tc.size]
			var out bytes.Buffer
			x := newXZWriter(&out, tc.budget, xzLZMA)
			step := max(1, (len(in)+tc.writes-1)/tc.writes)
			for rest := in; len(rest) > 0; {
				k := min(step, len(rest))
				if n, err := x.Write(rest[:k]); n != k || err != nil {
					t.Fatalf("write: %d, %v", n, err)
				}
				rest = rest[k:]
			}
			if err := x.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			r, err := xz.NewReader(bytes.NewReader(out.Bytes()))
			if err != nil {
				t.Fatalf("read xz header: %v", err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, in) {
				t.Fatalf("round trip: %d of %d bytes, %v", len(back), len(in), err)
			}
			if _, err := exec.LookPath("xz"); err == nil {
				cmd := exec.Command("xz", "-dc")
				cmd.Stdin = bytes.NewReader(out.Bytes())
				back, err := cmd.Output()
				if err != nil || !bytes.Equal(back, in) {
					t.Fatalf("xz -dc: %d of %d bytes, %v", len(back), len(in), err)
				}
			}
		})
	}
}

// scriptOutput is n bytes like a long script's output: log lines with timestamps and counters
// and, every fiftieth line, a few hundred random bytes (a hex dump gone binary, a core).
func scriptOutput(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := bytes.NewBuffer(make([]byte, 0, n+1024))
	for i := 0; b.Len() < n; i++ {
		if i%50 == 49 {
			blob := make([]byte, 200+r.IntN(300))
			for j := range blob {
				blob[j] = byte(r.Uint32())
			}
			b.Write(blob)
			b.WriteByte('\n')
			continue
		}
		fmt.Fprintf(b, "2026-11-27 00:%02d:%02d.%06d kernel: [%8d.%06d] eth%d: link up, speed %d Mbps, seq=%d ok\n",
			r.IntN(60), r.IntN(60), r.IntN(1000000), i/100, r.IntN(1000000), r.IntN(4), 1000*(1+r.IntN(10)), i)
	}
	return b.Bytes()[:n]
}

var benchMiB = flag.Int("download-mib", 100, "size in MiB of the output the download benchmarks use")

// usage measures CPU time (every thread of the process) and peak heap while it runs.
type usage struct {
	cpu0 time.Duration
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startUsage() *usage {
	runtime.GC()
	u := &usage{cpu0: cpuTime(), stop: make(chan struct{})}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			u.peak = max(u.peak, s[0].Value.Uint64())
			select {
			case <-u.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return u
}

func (u *usage) report(b *testing.B) {
	cpu := cpuTime() - u.cpu0
	close(u.stop)
	u.wg.Wait()
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(u.peak)/(1<<20), "peak-heap-MiB")
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkXZ compresses -download-mib MiB of script output with the encoder settings
// considered for tar.xz downloads; run it with -benchtime=1x. (The binary-tree matcher,
// lzma.BinaryTree, is left out: with a 1 MiB dictionary it took 406 s of CPU for 4 MiB, for a
// worse ratio, 0.60 against 0.24.)
func BenchmarkXZ(b *testing.B) {
	random := make([]byte, *benchMiB<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	type enc func(io.Writer) (io.WriteCloser, error)
	lz2 := func(c lzma.Writer2Config, budget int64) enc {
		return func(w io.Writer) (io.WriteCloser, error) { return newXZWriter(w, budget, c), nil }
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"log", scriptOutput(*benchMiB<<20, 7)}, {"random", random}} {
		for _, tc := range []struct {
			name string
			new  enc
		}{
			{"ulikunitz-default", func(w io.Writer) (io.WriteCloser, error) { return xz.NewWriter(w) }}, // the former setting
			{"lzma2-ht4-1MiB", lz2(lzma.Writer2Config{DictCap: 1 << 20, Matcher: lzma.HashTable4}, 1<<62)},
			{"lzma2-ht4-64KiB", lz2(lzma.Writer2Config{DictCap: 64 << 10, Matcher: lzma.HashTable4}, 1<<62)},
			{"lzma2-ht4-64KiB-buf64KiB", lz2(lzma.Writer2Config{DictCap: 64 << 10, BufSize: 64 << 10, Matcher: lzma.HashTable4}, 1<<62)},
			{"stored", lz2(xzLZMA, 0)},
			{"served", lz2(xzLZMA, xzCompressBudget)}, // what downloads use
		} {
			b.Run(in.name+"/"+tc.name, func(b *testing.B) {
				b.SetBytes(int64(len(in.data)))
				var out countingDiscard
				u := startUsage()
				for i := 0; i < b.N; i++ {
					out.n = 0
					w, err := tc.new(&out)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := w.Write(in.data); err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				u.report(b)
				b.ReportMetric(float64(out.n)/float64(len(in.data)), "ratio")
			})
		}
	}
}

// BenchmarkDownloadTarXZ downloads a set whose one result has a -download-mib MiB output as
// tar.xz through the in-process server over loopback, as an administrator would.
func BenchmarkDownloadTarXZ(b *testing.B) {
	out := scriptOutput(*benchMiB<<20, 9)
	f := newDLFixture(b, "host", Options{}, dlResult{name: "big", output: string(out)})
	out = nil
	for _, filetype := range []string{"tar.xz", "txt"} {
		b.Run(filetype, func(b *testing.B) {
			u := startUsage()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("GET", fmt.Sprintf("%s/MAAS/api/2.0/nodes/%s/results/%d/?op=download&filetype=%s", f.http.URL, f.system, f.setID, filetype), nil)
				req.Header.Set("Authorization", f.key.AuthorizationHeader(time.Now()))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("download: %d, %v", resp.StatusCode, err)
				}
				b.ReportMetric(float64(n)/(1<<20), "body-MiB")
			}
			u.report(b)
			b.SetBytes(int64(*benchMiB) << 20)
		})
	}
}

// TestDownloadStalledClientFreesSlot: a client that stops reading a large download is dropped
// after the idle timeout, and its slot is free again.
func TestDownloadStalledClientFreesSlot(t *testing.T) {
	f := newDLFixture(t, "host", Options{MaxHeavyDownloads: 1, IdleTimeout: 300 * time.Millisecond},
		dlResult{name: "big", output: string(scriptOutput(16<<20, 5))})
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /MAAS/api/2.0/nodes/%s/results/%d/?op=download HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n",
		f.system, f.setID, f.key.AuthorizationHeader(time.Now()))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("status line %q, %v", status, err)
	}
	if n := len(f.srv.heavy); n != 1 {
		t.Fatalf("%d slots taken while the download is under way; want 1", n)
	}
	// The client reads no more.
	deadline := time.Now().Add(10 * time.Second)
	for len(f.srv.heavy) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled download still holds its slot after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
