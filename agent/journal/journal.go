// Package journal is the runner's durable record of what it has done and what it still has to
// send. It is an append-only log in a directory: every record is written and fsynced before
// the caller acts on it, files a record carries are linked (or copied) into the journal first,
// and a record is marked sent by a later fsynced line. A crash can at worst leave a torn last
// line, which Open cuts off; a write that fails (a full disk) is cut off at once.
//
// The log keeps room allocated past its end (see reserveSize), so that when the scripts'
// output fills the storage directory the records that report it can still be written.
//
// Layout of a journal directory:
//
//	log              one line per entry: 8 hex digits of CRC-32 (IEEE) of the JSON, a space,
//	                 the JSON, a newline
//	files/<seq>-<n>  file n of record <seq>
package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Record is one entry of the journal.
type Record struct {
	Seq  int64     `json:"seq"`
	Kind string    `json:"kind"`          // what the record is, chosen by the caller (e.g. "signal", "mark")
	Key  string    `json:"key,omitempty"` // names the step the record stands for; unique in a journal
	Time time.Time `json:"time"`
	// Data is the caller's payload.
	Data json.RawMessage `json:"data,omitempty"`
	// Files are the files kept with the record, in order.
	Files []File `json:"files,omitempty"`
}

// File is a file kept in the journal with a record.
type File struct {
	Name string `json:"name"` // the name the caller gave it
	Path string `json:"path"` // relative to the journal directory
	Size int64  `json:"size"`
}

// FileSource names a file to keep with a new record: Src is copied (or hard-linked, which is
// as good as a copy as long as nobody rewrites Src in place) under the name Name.
type FileSource struct {
	Name string
	Src  string
}

// line is one line of the log: a record, or the note that a record was sent.
type line struct {
	Record *Record `json:"record,omitempty"`
	Sent   int64   `json:"sent,omitempty"`
}

// Journal is an open journal. It is safe for concurrent use.
type Journal struct {
	dir string

	mu      sync.Mutex
	f       *os.File
	records []Record // in seq order
	byKey   map[string]int
	bySeq   map[int64]int
	sent    map[int64]bool
	nextSeq int64
	changed chan struct{} // closed and replaced on every append or sent mark
	end     int64         // the log's length: where the next line goes
	reserve int64         // where the room allocated for the log ends (>= end when allocated)
	noRoom  bool          // the filesystem cannot allocate ahead (fallocate unsupported)

	// Warnings lists problems Open found and skipped (corrupt lines in the middle of the log).
	Warnings []string
}

// ErrLocked says another process has the journal open.
var ErrLocked = errors.New("journal: in use by another process")

// ErrDuplicateKey says a record with that key is already in the journal.
var ErrDuplicateKey = errors.New("journal: key already recorded")

const logName = "log"

// Open opens (creating it if needed) the journal in dir and reads what it holds. A torn or
// corrupt last line, the mark of a crash during a write, is cut off; a corrupt line elsewhere
// is skipped and reported in Warnings.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		return nil, fmt.Errorf("create journal %s: %w", dir, err)
	}
	path := filepath.Join(dir, logName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// One process at a time: a run, a resume and a send of the same journal must not
	// interleave their appends and uploads.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("lock journal %s: %w", dir, err)
	}
	j := &Journal{dir: dir, f: f, byKey: map[string]int{}, bySeq: map[int64]int{}, sent: map[int64]bool{},
		nextSeq: 1, changed: make(chan struct{})}
	good, err := j.load(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("cut the torn end of journal %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync journal %s: %w", path, err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("seek journal %s: %w", path, err)
	}
	j.end, j.reserve = good, good
	j.keepRoom(0)
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// maxLine bounds one log line; records hold metadata only, never file contents.
const maxLine = 1 << 20

// load reads the log and returns the length of its good prefix.
func (j *Journal) load(r io.Reader) (int64, error) {
	recs, sent, good, warnings, err := Parse(r)
	if err != nil {
		return 0, err
	}
	j.Warnings = warnings
	for _, rec := range recs {
		j.add(rec)
	}
	for seq := range sent {
		if _, ok := j.bySeq[seq]; ok {
			j.sent[seq] = true
		}
	}
	return good, nil
}

// Parse reads a journal log: its records in order, the set of sent sequence numbers and the
// length of the prefix made of whole lines. A bad last line ends the good prefix; bad lines
// before it are skipped with a warning. Records whose sequence number or key repeats an
// earlier one are skipped with a warning too.
func Parse(r io.Reader) (recs []Record, sent map[int64]bool, good int64, warnings []string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	sent = map[int64]bool{}
	seqs := map[int64]bool{}
	keys := map[string]bool{}
	var off int64
	var pendingWarn []string // warnings about lines that may yet turn out to be the last
	for n := 1; ; n++ {
		raw, size, complete, rerr := readLine(br)
		if rerr != nil {
			return nil, nil, 0, nil, rerr
		}
		if size == 0 {
			break
		}
		if !complete {
			// A torn last line: the good prefix ends before it.
			break
		}
		off += size
		l, perr := parseLine(raw)
		if perr != nil {
			pendingWarn = append(pendingWarn, fmt.Sprintf("line %d: %v", n, perr))
			continue
		}
		// A good line: earlier bad lines were in the middle, so they stay skipped.
		warnings = append(warnings, pendingWarn...)
		pendingWarn = nil
		good = off
		switch {
		case l.Record != nil:
			rec := *l.Record
			if rec.Seq <= 0 || seqs[rec.Seq] || (rec.Key != "" && keys[rec.Key]) {
				warnings = append(warnings, fmt.Sprintf("line %d: record %d (%q) repeats an earlier one", n, rec.Seq, rec.Key))
				continue
			}
			seqs[rec.Seq] = true
			if rec.Key != "" {
				keys[rec.Key] = true
			}
			recs = append(recs, rec)
		case l.Sent > 0:
			sent[l.Sent] = true
		}
	}
	return recs, sent, good, warnings, nil
}

// readLine reads the next line. It returns the line (nil when it is longer than maxLine, so
// that it parses as malformed), the number of bytes it took, and whether it ended with a
// newline.
func readLine(br *bufio.Reader) (raw []byte, size int64, complete bool, err error) {
	for {
		chunk, rerr := br.ReadSlice('\n')
		size += int64(len(chunk))
		if size <= maxLine {
			raw = append(raw, chunk...)
		} else {
			raw = nil
		}
		switch {
		case rerr == nil:
			if size > maxLine {
				return []byte{}, size, true, nil
			}
			return raw, size, true, nil
		case errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case rerr == io.EOF:
			return raw, size, false, nil
		default:
			return nil, 0, false, rerr
		}
	}
}

func parseLine(raw []byte) (line, error) {
	var l line
	body := bytes.TrimSuffix(raw, []byte("\n"))
	if len(body) < 10 || body[8] != ' ' {
		return l, errors.New("malformed line")
	}
	want, err := strconv.ParseUint(string(body[:8]), 16, 32)
	if err != nil {
		return l, errors.New("malformed checksum")
	}
	payload := body[9:]
	if crc32.ChecksumIEEE(payload) != uint32(want) {
		return l, errors.New("checksum mismatch")
	}
	if err := json.Unmarshal(payload, &l); err != nil {
		return l, fmt.Errorf("malformed entry: %w", err)
	}
	if l.Record == nil && l.Sent <= 0 {
		return l, errors.New("empty entry")
	}
	return l, nil
}

func (j *Journal) add(rec Record) {
	j.records = append(j.records, rec)
	j.bySeq[rec.Seq] = len(j.records) - 1
	if rec.Key != "" {
		j.byKey[rec.Key] = len(j.records) - 1
	}
	if rec.Seq >= j.nextSeq {
		j.nextSeq = rec.Seq + 1
	}
}

// Dir is the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// Path is the absolute path of a file kept with a record.
func (j *Journal) Path(f File) string { return filepath.Join(j.dir, filepath.FromSlash(f.Path)) }

// Append writes a new record: the files first (linked or copied, then fsynced), then the
// record's line (fsynced). When it returns without error the record survives a crash. A key
// already recorded gives ErrDuplicateKey.
func (j *Journal) Append(kind, key string, data any, files []FileSource) (Record, error) {
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return Record{}, fmt.Errorf("journal: encode %s record: %w", kind, err)
		}
		raw = b
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return Record{}, errors.New("journal: closed")
	}
	if key != "" {
		if _, ok := j.byKey[key]; ok {
			return Record{}, fmt.Errorf("%w: %s", ErrDuplicateKey, key)
		}
	}
	rec := Record{Seq: j.nextSeq, Kind: kind, Key: key, Time: time.Now().UTC(), Data: raw}
	if len(files) > 0 {
		kept, err := j.keepFiles(rec.Seq, files)
		if err != nil {
			return Record{}, err
		}
		rec.Files = kept
	}
	if err := j.writeLine(line{Record: &rec}); err != nil {
		return Record{}, err
	}
	j.add(rec)
	j.notify()
	return rec, nil
}

func (j *Journal) keepFiles(seq int64, files []FileSource) ([]File, error) {
	dir := filepath.Join(j.dir, "files")
	out := make([]File, 0, len(files))
	for i, src := range files {
		// Files are stored under their record and position, so any name is safe on disk.
		name := strconv.FormatInt(seq, 10) + "-" + strconv.Itoa(i)
		dst := filepath.Join(dir, name)
		// A crash after an earlier attempt may have left the file; start over.
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("journal: %w", err)
		}
		size, err := keepFile(src.Src, dst)
		if err != nil {
			return nil, fmt.Errorf("journal: keep %s: %w", src.Src, err)
		}
		out = append(out, File{Name: src.Name, Path: "files/" + name, Size: size})
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return out, nil
}

// keepFile hard-links src to dst, or copies it when a link is impossible, and makes the data
// durable.
func keepFile(src, dst string) (int64, error) {
	if err := os.Link(src, dst); err == nil {
		f, err := os.Open(dst)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		if fi.Size() == 0 {
			return 0, nil // no data to flush; the directory sync makes the link durable
		}
		return fi.Size(), f.Sync()
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func (j *Journal) writeLine(l line) error {
	if err := j.writeLineNoSync(l); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal: sync: %w", err)
	}
	return nil
}

func (j *Journal) writeLineNoSync(l line) error {
	payload, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("journal: encode: %w", err)
	}
	buf := make([]byte, 0, len(payload)+10)
	buf = fmt.Appendf(buf, "%08x ", crc32.ChecksumIEEE(payload))
	buf = append(buf, payload...)
	buf = append(buf, '\n')
	j.keepRoom(int64(len(buf)))
	n, err := j.f.Write(buf)
	if err != nil {
		if n > 0 {
			// A short write (the disk is full) leaves a torn line, which the next line
			// would follow and Open would then skip as corrupt: cut it off now.
			if terr := j.f.Truncate(j.end); terr != nil {
				return fmt.Errorf("journal: write: %w (and cutting the torn line: %v)", err, terr)
			}
			if _, serr := j.f.Seek(j.end, io.SeekStart); serr != nil {
				return fmt.Errorf("journal: write: %w (and cutting the torn line: %v)", err, serr)
			}
		}
		return fmt.Errorf("journal: write: %w", err)
	}
	j.end += int64(n)
	return nil
}

// Room kept allocated past the end of the log, without changing its size
// (FALLOC_FL_KEEP_SIZE): records are small (under a kilobyte), so this holds the reports of
// a hundred scripts even when their output has filled the storage directory. It is renewed
// to reserveSize whenever less than reserveLow is left, while the disk still has room.
const (
	reserveSize = 128 << 10
	reserveLow  = 64 << 10
)

// keepRoom makes sure that room stays allocated past the end of the log for the next line of
// size n and for the reserve, as far as the filesystem allows: a failure here is not an
// error (the write itself says whether the line fits).
func (j *Journal) keepRoom(n int64) {
	if j.noRoom || j.reserve-j.end >= n+reserveLow {
		return
	}
	const keepSize = 0x01 // FALLOC_FL_KEEP_SIZE
	err := syscall.Fallocate(int(j.f.Fd()), keepSize, j.end, n+reserveSize)
	switch {
	case err == nil:
		j.reserve = j.end + n + reserveSize
	case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
		j.noRoom = true
	}
}

// MarkSent records that record seq was delivered, then drops the copies of its files. The
// mark is not fsynced (the next record's fsync carries it).
func (j *Journal) MarkSent(seq int64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal: closed")
	}
	i, ok := j.bySeq[seq]
	if !ok {
		return fmt.Errorf("journal: no record %d", seq)
	}
	if j.sent[seq] {
		return nil
	}
	// No fsync: losing a sent mark in a crash only sends the record again, with the same
	// idempotency key, which the region answers without storing it twice.
	if err := j.writeLineNoSync(line{Sent: seq}); err != nil {
		return err
	}
	j.sent[seq] = true
	// Best effort: the files are no longer needed once the record is delivered.
	for _, f := range j.records[i].Files {
		_ = os.Remove(j.Path(f))
	}
	j.notify()
	return nil
}

func (j *Journal) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next append or sent mark.
func (j *Journal) Changed() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.changed
}

// Lookup returns the record with key.
func (j *Journal) Lookup(key string) (Record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	i, ok := j.byKey[key]
	if !ok {
		return Record{}, false
	}
	return j.records[i], true
}

// Sent reports whether record seq was marked sent.
func (j *Journal) Sent(seq int64) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.sent[seq]
}

// Records returns every record of the given kind ("" for all), in order.
func (j *Journal) Records(kind string) []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Record
	for _, r := range j.records {
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// Unsent returns the records of the given kind not yet marked sent, in order.
func (j *Journal) Unsent(kind string) []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Record
	for _, r := range j.records {
		if r.Kind == kind && !j.sent[r.Seq] {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Seq < out[b].Seq })
	return out
}

// Close closes the log and gives back the room it kept past its end.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	if j.reserve > j.end {
		_ = j.f.Truncate(j.end) // truncating to the same size frees the blocks past it
	}
	err := j.f.Close()
	j.f = nil
	return err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}
