package api

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ulikunitz/xz/lzma"

	"maasgo/region/store"
	"maasgo/wire/evidence"
)

// binaryName matches the script names whose combined output is an archive: the text download
// shows "Binary file" in its place, as upstream does.
var binaryName = regexp.MustCompile(`.+\.tar(\..+)?$`)

// Result downloads (protocol.md §11.3) are planned inside one read transaction, without any
// output, and streamed afterwards: each result's outputs are read in a short transaction of
// their own, written out and dropped, so a download holds at most one result's outputs in
// memory and no transaction while it writes to the client.
//
// Every download takes a slot of Server.heavy while it streams. A download's size is unknown
// until its outputs are read, and even a text one holds a whole result's outputs (up to the
// upload limit) in memory while a slow client takes them, so the slots bound the memory and,
// for tar.xz, the compression CPU that downloads use at once. Small downloads hold a slot for
// milliseconds; a request that finds none free within heavyWait is answered 503 with
// Retry-After.
//
// A client that stops reading is dropped after the server's idle timeout (deadlines.go), which
// frees its slot.
var heavyWait = 5 * time.Second // how long a download waits for a free slot before it is refused

// xzCompressBudget is how much of a tar.xz download is LZMA2-compressed; the rest goes into
// the .xz as LZMA2 uncompressed chunks. The pure-Go encoder is slow: BenchmarkXZ
// (download_test.go, 100 MiB) measured the former default settings at 12 s of CPU on
// log-like script output and 204 s on incompressible output (the case of issue 10), and the
// cheapest setting (xzLZMA) still at 5 s and 18 s. A machine chooses its output, so only a
// budget bounds the cost. With it one download costs at most about 1.5 s of compression CPU,
// the usual download (commissioning and test outputs of a few MiB) stays fully compressed,
// and past the budget the CPU is a CRC and a copy, at 1.5 GB/s. The output is one valid .xz
// stream either way.
var xzCompressBudget int64 = 8 << 20

// xzLZMA is the encoder setting for the compressed part: the hash-table matcher with a 64 KiB
// dictionary and lookahead. BenchmarkXZ found it 1.7 times as fast as the former default
// (8 MiB dictionary) for a ratio within 1 %: script output repeats within lines and pages,
// not across megabytes. It also keeps the encoder's memory to a few MiB.
var xzLZMA = lzma.Writer2Config{DictCap: 64 << 10, BufSize: 64 << 10, Matcher: lzma.HashTable4}

// Bounds of the names taken from stored data in archive member names.
const (
	maxHostComponent   = 100
	maxScriptComponent = 128
	maxDeviceComponent = 64
)

// downloadPart is one output of one result in a download.
type downloadPart struct {
	kind   string // "", ".out", ".err" or ".yaml": combined, stdout, stderr, result
	title  string // the text download's section title
	member string // the tar member's name under the archive's directory
}

// downloadResult is one result of a download with the parts it contributes.
type downloadResult struct {
	id     int64
	binary bool // the combined output is an archive
	parts  []downloadPart
}

// resultDownload is a planned download; it streams itself after the handler returned.
type resultDownload struct {
	s        *Server
	filetype string // "txt" or "tar.xz"
	root     string // the tar's one top-level directory, a safe name
	results  []downloadResult
}

// downloadResults answers result download (protocol.md §11.3): the chosen outputs of the
// matching results as text, or as an xz-compressed tar.
func downloadResults(req *request) (any, error) {
	p := req.params
	output := p.Get("output")
	if output == "" {
		output = "combined"
	}
	kinds := map[string][]string{"combined": {""}, "stdout": {".out"}, "stderr": {".err"}, "result": {".yaml"},
		"all": {"", ".out", ".err", ".yaml"}}[output]
	if kinds == nil {
		return nil, fieldError("output", fmt.Sprintf("%q is not one of combined, stdout, stderr, result, all", output))
	}
	filetype := p.Get("filetype")
	if filetype == "" {
		filetype = "txt"
	}
	if filetype != "txt" && filetype != "tar.xz" {
		return nil, badRequest("Unknown filetype %q: use txt or tar.xz", filetype)
	}
	f, err := parseResultFilter(p)
	if err != nil {
		return nil, err
	}
	d := &resultDownload{s: req.s, filetype: filetype}
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		sets, err := setsOf(tx, m, req.path["id"], nil)
		if err != nil {
			return err
		}
		set := sets[0]
		d.root = evidence.SafeName(m.Hostname, maxHostComponent) + "-" +
			evidence.SafeName(strings.ToLower(set.Type.Label()), maxHostComponent) + "-" + strconv.FormatInt(set.ID, 10)
		by, v, err := resultsOf(tx, m, sets, false)
		if err != nil {
			return err
		}
		rs := by[set.ID]
		sort.SliceStable(rs, func(i, j int) bool { return v.sortKey(&rs[i]) < v.sortKey(&rs[j]) })
		members := map[string]bool{}
		for _, r := range rs {
			if !f.keep(&r, v) {
				continue
			}
			device, devTitle := "", ""
			if r.BlockDeviceID != nil {
				device = v.disks[*r.BlockDeviceID].Name
				devTitle = " - /dev/" + safeTitle(device)
			} else if r.InterfaceID != nil {
				device = v.ifaces[*r.InterfaceID].Name
				devTitle = " - " + safeTitle(device)
			}
			dr := downloadResult{id: r.ID, binary: binaryName.MatchString(r.ScriptName)}
			for _, k := range kinds {
				if dr.binary && k != "" {
					continue
				}
				part := downloadPart{kind: k, title: safeTitle(r.ScriptName+k) + devTitle}
				if filetype == "tar.xz" {
					part.member = uniqueMember(members, memberName(r.ScriptName, k, device))
				}
				dr.parts = append(dr.parts, part)
			}
			if len(dr.parts) > 0 {
				d.results = append(d.results, dr)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// safeTitle keeps a stored name from forging lines or terminal sequences in the text
// download: control and format characters and invalid UTF-8 become '?'.
func safeTitle(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// memberName is a result output's name in the archive: script name, kind, then the disk or
// interface, as one bounded safe component.
func memberName(script, kind, device string) string {
	name := evidence.SafeName(script, maxScriptComponent) + kind
	if device != "" {
		name += "-" + evidence.SafeName(device, maxDeviceComponent)
	}
	return name
}

// uniqueMember numbers a name that sanitising or truncating made equal to an earlier one,
// so that no member overwrites another when extracted.
func uniqueMember(seen map[string]bool, name string) string {
	out := name
	for n := 2; seen[out]; n++ {
		out = name + "~" + strconv.Itoa(n)
	}
	seen[out] = true
	return out
}

// errBusy refuses a download when every heavy-download slot stays taken.
var errBusy = errors.New("every download slot is taken")

// acquireHeavy takes a heavy-download slot, waiting at most wait or until ctx ends.
func (s *Server) acquireHeavy(ctx context.Context, wait time.Duration) (release func(), err error) {
	if s.heavy == nil {
		return func() {}, nil
	}
	select {
	case s.heavy <- struct{}{}:
		return func() { <-s.heavy }, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s.heavy <- struct{}{}:
		return func() { <-s.heavy }, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stream writes the download.
func (d *resultDownload) stream(w http.ResponseWriter, r *http.Request) {
	if d.filetype == "txt" {
		// Upstream's content type for a result's output, which clients expect.
		d.s.streamHeavy(w, r, "application/binary", "", "result download", d.writeText)
		return
	}
	d.s.streamHeavy(w, r, "application/x-tar", d.root+".tar.xz", "result download", d.writeTar)
}

// streamHeavy writes a large answer (what, in the log) that write produces, in a
// heavy-download slot: headers once the first bytes are ready, so that a failure before then
// is still an ordinary error response; a failure after them aborts the connection, so the
// client sees a broken download rather than a short one.
func (s *Server) streamHeavy(w http.ResponseWriter, r *http.Request, contentType, filename, what string, write func(context.Context, io.Writer) error) {
	release, err := s.acquireHeavy(r.Context(), heavyWait)
	if err != nil {
		secs := max(1, int(heavyWait/time.Second))
		if errors.Is(err, errBusy) {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		}
		// Also when the client went away while waiting: it reads nothing, the log sees 503.
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf(
			"The region is serving %d result downloads already; retry in %d seconds.", cap(s.heavy), secs))
		return
	}
	defer release()
	cw := &startWriter{w: w}
	w.Header().Set("Content-Type", contentType)
	if filename != "" {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filename))
	}
	err = write(r.Context(), cw)
	if err == nil {
		return
	}
	if !cw.started {
		for _, h := range []string{"Content-Type", "Content-Disposition"} {
			w.Header().Del(h)
		}
		s.writeError(w, r, err)
		return
	}
	if cw.err != nil || r.Context().Err() != nil {
		// The client went away or stopped reading: nothing to fix here.
		s.log().Info(what+" cut short by the client", "path", r.URL.Path, "err", err)
	} else {
		s.log().Error(what+" failed", "path", r.URL.Path, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// load reads one result with its outputs in a transaction of its own. A result deleted
// since the download was planned is nil.
func (d *resultDownload) load(ctx context.Context, id int64) (*store.ScriptResult, error) {
	var r *store.ScriptResult
	err := d.s.store.View(ctx, func(tx *store.Tx) (err error) {
		r, err = tx.ScriptResultByID(id, true)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read output of script result %d: %w", id, err)
	}
	return r, nil
}

func partData(r *store.ScriptResult, kind string) []byte {
	switch kind {
	case ".out":
		return r.Stdout
	case ".err":
		return r.Stderr
	case ".yaml":
		return r.Result
	}
	return r.Output
}

// writeText writes the text download: one part as it is; several under a title line each.
func (d *resultDownload) writeText(ctx context.Context, w io.Writer) error {
	single := len(d.results) == 1 && len(d.results[0].parts) == 1
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, dr := range d.results {
		r, err := d.load(ctx, dr.id)
		if err != nil {
			return err
		}
		if r == nil {
			if single {
				return notFoundf("Script result %d was deleted.", dr.id)
			}
			continue
		}
		for _, part := range dr.parts {
			data := partData(r, part.kind)
			if single {
				if _, err := bw.Write(data); err != nil {
					return fmt.Errorf("write output of script result %d: %w", dr.id, err)
				}
				continue
			}
			dashes := strings.Repeat("-", max(0, (80-(len(part.title)+2))/2))
			fmt.Fprintf(bw, "%s %s %s\n", dashes, part.title, dashes)
			if dr.binary {
				bw.WriteString("Binary file\n")
				continue
			}
			if _, err := bw.Write(data); err != nil {
				return fmt.Errorf("write output of script result %d: %w", dr.id, err)
			}
			if len(data) > 0 && data[len(data)-1] != '\n' {
				bw.WriteByte('\n')
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write results text: %w", err)
	}
	return nil
}

// writeTar writes the tar.xz download: one directory, d.root, holding a regular file per part.
func (d *resultDownload) writeTar(ctx context.Context, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	xw := newXZWriter(bw, xzCompressBudget, xzLZMA)
	tw := tar.NewWriter(xw)
	for _, dr := range d.results {
		r, err := d.load(ctx, dr.id)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		for _, part := range dr.parts {
			data := partData(r, part.kind)
			hdr := &tar.Header{Name: d.root + "/" + part.member, Mode: 0o644, Size: int64(len(data)), ModTime: r.Updated,
				Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("write tar header of %s: %w", hdr.Name, err)
			}
			if _, err := tw.Write(data); err != nil {
				return fmt.Errorf("write tar member %s: %w", hdr.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close tar of %s: %w", d.root, err)
	}
	if err := xw.Close(); err != nil {
		return fmt.Errorf("close xz of %s: %w", d.root, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write tar.xz of %s: %w", d.root, err)
	}
	return nil
}

// startWriter remembers whether a byte of the download reached the response, and whether
// writing to the client failed.
type startWriter struct {
	w       io.Writer
	started bool
	err     error
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.started = true
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// The .xz container (the .xz file format 1.2.1, tukaani.org/xz/xz-file-format.txt) is written
// here rather than by xz.Writer so that one stream can carry both a compressed block and
// a block of LZMA2 uncompressed chunks (see xzCompressBudget).
const (
	xzChunk    = 64 << 10 // the largest LZMA2 uncompressed chunk
	xzCheckLen = 8        // CRC64
)

var (
	xzMagic   = []byte{0xFD, '7', 'z', 'X', 'Z', 0x00}
	xzFlags   = []byte{0x00, 0x04} // check type CRC64
	xzCRC64   = crc64.MakeTable(crc64.ECMA)
	xzTrailer = []byte{'Y', 'Z'}
)

// xzWriter writes one .xz stream with a single LZMA2 filter: its first budget bytes in a
// block compressed by lzma.Writer2, the rest in a block of uncompressed chunks.
type xzWriter struct {
	w       io.Writer
	cfg     lzma.Writer2Config
	budget  int64
	records [][2]int64 // per block: unpadded size, uncompressed size
	err     error
	started bool // the stream header is written

	// the open block
	open   bool
	lz     *lzma.Writer2 // nil in a block of uncompressed chunks
	cw     countWriter   // the block's compressed data
	check  hash.Hash64
	usize  int64
	chunk  []byte // pending uncompressed chunk
	chunks int    // uncompressed chunks written in the block
}

func newXZWriter(w io.Writer, budget int64, cfg lzma.Writer2Config) *xzWriter {
	return &xzWriter{w: w, cfg: cfg, budget: budget, check: crc64.New(xzCRC64)}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (x *xzWriter) Write(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	n := 0
	for len(p) > 0 {
		var k int
		if x.budget > 0 {
			if !x.open {
				if x.err = x.startBlock(true); x.err != nil {
					return n, x.err
				}
			}
			k = int(min(int64(len(p)), x.budget))
			if _, x.err = x.lz.Write(p[:k]); x.err != nil {
				return n, fmt.Errorf("compress xz block: %w", x.err)
			}
			x.budget -= int64(k)
		} else {
			if !x.open || x.lz != nil {
				if x.open {
					if x.err = x.endBlock(); x.err != nil {
						return n, x.err
					}
				}
				if x.err = x.startBlock(false); x.err != nil {
					return n, x.err
				}
			}
			k = min(len(p), xzChunk-len(x.chunk))
			x.chunk = append(x.chunk, p[:k]...)
			if len(x.chunk) == xzChunk {
				if x.err = x.flushChunk(); x.err != nil {
					return n, x.err
				}
			}
		}
		x.check.Write(p[:k])
		x.usize += int64(k)
		n += k
		p = p[k:]
	}
	return n, nil
}

func (x *xzWriter) writeHeader() error {
	h := append(append([]byte{}, xzMagic...), xzFlags...)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(xzFlags))
	if _, err := x.w.Write(h); err != nil {
		return fmt.Errorf("write xz stream header: %w", err)
	}
	x.started = true
	return nil
}

// startBlock writes a block header: one filter, LZMA2, with the encoder's dictionary size
// (which also covers the 64 KiB uncompressed chunks); no sizes, they are in the index.
func (x *xzWriter) startBlock(compressed bool) error {
	if !x.started {
		if err := x.writeHeader(); err != nil {
			return err
		}
	}
	h := []byte{0, 0x00, 0x21, 0x01, lzma.EncodeDictCap(int64(max(x.cfg.DictCap, xzChunk))), 0, 0, 0}
	h[0] = byte((len(h)+4)/4 - 1)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(h))
	if _, err := x.w.Write(h); err != nil {
		return fmt.Errorf("write xz block header: %w", err)
	}
	x.open, x.usize, x.chunk, x.chunks, x.lz = true, 0, x.chunk[:0], 0, nil
	x.cw = countWriter{w: x.w, n: int64(len(h))}
	x.check.Reset()
	if compressed {
		lz, err := x.cfg.NewWriter2(&x.cw)
		if err != nil {
			return fmt.Errorf("start lzma2 encoder: %w", err)
		}
		x.lz = lz
	}
	return nil
}

// flushChunk writes the pending data as one LZMA2 uncompressed chunk: control byte 0x01
// (dictionary reset) for a block's first chunk, 0x02 after it, then the size less one.
func (x *xzWriter) flushChunk() error {
	if len(x.chunk) == 0 {
		return nil
	}
	ctl := byte(0x02)
	if x.chunks == 0 {
		ctl = 0x01
	}
	h := []byte{ctl, byte((len(x.chunk) - 1) >> 8), byte(len(x.chunk) - 1)}
	if _, err := x.cw.Write(h); err != nil {
		return fmt.Errorf("write lzma2 chunk: %w", err)
	}
	if _, err := x.cw.Write(x.chunk); err != nil {
		return fmt.Errorf("write lzma2 chunk: %w", err)
	}
	x.chunks++
	x.chunk = x.chunk[:0]
	return nil
}

// endBlock ends the LZMA2 data (end marker 0x00), pads the block to four bytes and writes
// its CRC64.
func (x *xzWriter) endBlock() error {
	if x.lz != nil {
		if err := x.lz.Close(); err != nil {
			return fmt.Errorf("end xz block: %w", err)
		}
	} else {
		if err := x.flushChunk(); err != nil {
			return err
		}
		if _, err := x.cw.Write([]byte{0x00}); err != nil {
			return fmt.Errorf("end xz block: %w", err)
		}
	}
	unpadded := x.cw.n + xzCheckLen
	tail := make([]byte, (4-x.cw.n%4)%4, 4+xzCheckLen)
	tail = binary.LittleEndian.AppendUint64(tail, x.check.Sum64())
	if _, err := x.w.Write(tail); err != nil {
		return fmt.Errorf("end xz block: %w", err)
	}
	x.records = append(x.records, [2]int64{unpadded, x.usize})
	x.open, x.lz = false, nil
	return nil
}

// Close ends the open block and writes the index and the stream footer.
func (x *xzWriter) Close() error {
	if x.err != nil {
		return x.err
	}
	x.err = errors.New("xz writer is closed")
	if !x.started {
		if err := x.writeHeader(); err != nil {
			return err
		}
	}
	if x.open {
		if err := x.endBlock(); err != nil {
			return err
		}
	}
	idx := []byte{0x00}
	idx = binary.AppendUvarint(idx, uint64(len(x.records)))
	for _, rec := range x.records {
		idx = binary.AppendUvarint(idx, uint64(rec[0]))
		idx = binary.AppendUvarint(idx, uint64(rec[1]))
	}
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	foot := binary.LittleEndian.AppendUint32(nil, uint32((len(idx))/4-1))
	foot = append(foot, xzFlags...)
	out := binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(foot))
	out = append(append(out, foot...), xzTrailer...)
	if _, err := x.w.Write(out); err != nil {
		return fmt.Errorf("write xz index: %w", err)
	}
	return nil
}
