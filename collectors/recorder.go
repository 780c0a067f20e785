package collectors

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ulikunitz/xz"
)

// Recorder collects everything the collectors read (files, symlinks, directories) and the
// answers of the netlink, ethtool and host seams, so that it can be written as a snapshot
// that replays to the same document. All methods are safe on a nil *Recorder (they do
// nothing) and safe for concurrent use.
type Recorder struct {
	mu           sync.Mutex
	files        map[string][]byte
	placeholders map[string]bool
	links        map[string]string
	dirs         map[string]bool
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{
		files:        map[string][]byte{},
		placeholders: map[string]bool{},
		links:        map[string]string{},
		dirs:         map[string]bool{},
	}
}

func (r *Recorder) file(p string, data []byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[p] = append([]byte(nil), data...)
}

func (r *Recorder) placeholder(p string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.placeholders[p] = true
}

func (r *Recorder) link(p, target string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.links[p] = target
}

func (r *Recorder) dir(p string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirs[p] = true
}

// entry kinds, in the order a conflict is settled: a link or a file wins over a placeholder,
// and a directory that holds recorded entries wins over anything else at its path.
const (
	kindDir = iota
	kindLink
	kindFile
)

type snapEntry struct {
	kind   int
	target string
	data   []byte
}

// entries returns the snapshot entries keyed by relative path (no leading slash).
func (r *Recorder) entries() map[string]snapEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]snapEntry{}
	addParents := func(p string) {
		for d := path.Dir(p); d != "/" && d != "."; d = path.Dir(d) {
			out[strings.TrimPrefix(d, "/")] = snapEntry{kind: kindDir}
		}
	}
	for p := range r.placeholders {
		out[strings.TrimPrefix(p, "/")] = snapEntry{kind: kindFile}
	}
	for p, d := range r.files {
		out[strings.TrimPrefix(p, "/")] = snapEntry{kind: kindFile, data: d}
	}
	for p, t := range r.links {
		out[strings.TrimPrefix(p, "/")] = snapEntry{kind: kindLink, target: t}
	}
	for p := range r.dirs {
		if p != "/" {
			out[strings.TrimPrefix(p, "/")] = snapEntry{kind: kindDir}
		}
	}
	for p := range r.placeholders {
		addParents(p)
	}
	for p := range r.files {
		addParents(p)
	}
	for p := range r.links {
		addParents(p)
	}
	for p := range r.dirs {
		addParents(p)
	}
	return out
}

// snapshotTime is the fixed modification time of snapshot entries, so that the same
// recording always gives the same archive.
var snapshotTime = time.Unix(0, 0).UTC()

// WriteTar writes the recording as an uncompressed tar stream with sorted, deterministic
// entries. Paths are relative to the machine root ("sys/class/net/eth0").
func (r *Recorder) WriteTar(w io.Writer) error {
	ents := r.entries()
	names := make([]string, 0, len(ents))
	for n := range ents {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		e := ents[n]
		h := &tar.Header{Name: n, ModTime: snapshotTime, Format: tar.FormatPAX}
		switch e.kind {
		case kindDir:
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, n+"/", 0o755
		case kindLink:
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, e.target, 0o777
		default:
			h.Typeflag, h.Size, h.Mode = tar.TypeReg, int64(len(e.data)), 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write snapshot entry %s: %w", n, err)
		}
		if e.kind == kindFile && len(e.data) > 0 {
			if _, err := tw.Write(e.data); err != nil {
				return fmt.Errorf("write snapshot entry %s: %w", n, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("finish snapshot tar: %w", err)
	}
	return nil
}

// WriteTarXZ writes the recording as an xz-compressed tar stream.
func (r *Recorder) WriteTarXZ(w io.Writer) error {
	cfg := xz.WriterConfig{DictCap: 1 << 20}
	xw, err := cfg.NewWriter(w)
	if err != nil {
		return fmt.Errorf("start xz stream: %w", err)
	}
	if err := r.WriteTar(xw); err != nil {
		return err
	}
	if err := xw.Close(); err != nil {
		return fmt.Errorf("finish xz stream: %w", err)
	}
	return nil
}
