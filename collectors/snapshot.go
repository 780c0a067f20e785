package collectors

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ulikunitz/xz"
)

// Limits of the snapshot reader; a snapshot of a large server is a few megabytes.
const (
	maxSnapshotEntries = 500000
	maxSnapshotBytes   = 1 << 30
	maxSnapshotFile    = 64 << 20
)

// ErrBadSnapshot is wrapped by every error about a malformed or unsafe snapshot.
var ErrBadSnapshot = errors.New("bad snapshot")

// UnpackSnapshot reads a tar stream (xz-compressed or plain) and unpacks it below dest, which
// must be an empty or new directory. It accepts only directories, regular files and
// relative symlinks that stay inside the tree, refuses names that leave dest, and never
// writes through a symlink.
func UnpackSnapshot(r io.Reader, dest string) error {
	return UnpackSnapshotLimit(r, dest, maxSnapshotBytes)
}

// UnpackSnapshotLimit is UnpackSnapshot writing at most limit bytes of files (a region
// unpacking what a machine sent bounds its disk with it).
func UnpackSnapshotLimit(r io.Reader, dest string, limit int64) error {
	br := bufio.NewReader(r)
	var tr *tar.Reader
	if magic, _ := br.Peek(6); bytes.Equal(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}) {
		head, _ := br.Peek(64)
		if err := checkXZDict(head); err != nil {
			return err
		}
		xr, err := xz.NewReader(br)
		if err != nil {
			return fmt.Errorf("%w: open xz stream: %v", ErrBadSnapshot, err)
		}
		tr = tar.NewReader(xr)
	} else {
		tr = tar.NewReader(br)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dest, err)
	}
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: read tar: %v", ErrBadSnapshot, err)
		}
		if n >= maxSnapshotEntries {
			return fmt.Errorf("%w: more than %d entries", ErrBadSnapshot, maxSnapshotEntries)
		}
		name, err := snapshotName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirNoFollow(dest, name); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size < 0 || h.Size > maxSnapshotFile {
				return fmt.Errorf("%w: %s: size %d out of range", ErrBadSnapshot, name, h.Size)
			}
			total += h.Size
			if total > limit {
				return fmt.Errorf("%w: more than %d bytes", ErrBadSnapshot, limit)
			}
			if err := writeNoFollow(dest, name, io.LimitReader(tr, h.Size)); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, h.Linkname); err != nil {
				return err
			}
			if err := mkdirNoFollow(dest, path.Dir(name)); err != nil {
				return err
			}
			if err := os.Symlink(h.Linkname, filepath.Join(dest, filepath.FromSlash(name))); err != nil {
				return fmt.Errorf("%w: %s: %v", ErrBadSnapshot, name, err)
			}
		default:
			return fmt.Errorf("%w: %s: unsupported entry type %q", ErrBadSnapshot, name, h.Typeflag)
		}
	}
}

// maxXZDict bounds the LZMA2 dictionary a snapshot may ask for: the xz reader allocates
// whatever the block header declares (up to 4 GiB). Snapshots are written with 1 MiB.
const maxXZDict = 64 << 20

// checkXZDict reads the first block header of an xz stream and refuses an LZMA2 dictionary
// above maxXZDict. Later blocks are not inspected (this writer emits one block).
func checkXZDict(b []byte) error {
	const streamHeader = 12
	if len(b) < streamHeader+2 || b[streamHeader] == 0 {
		return nil
	}
	hdr := b[streamHeader:]
	size := (int(hdr[0]) + 1) * 4
	if size > len(hdr) {
		size = len(hdr)
	}
	flags := hdr[1]
	i := 2
	vli := func() uint64 {
		var v uint64
		for shift := 0; i < size && shift < 63; shift += 7 {
			c := hdr[i]
			i++
			v |= uint64(c&0x7f) << shift
			if c&0x80 == 0 {
				break
			}
		}
		return v
	}
	if flags&0x40 != 0 {
		vli()
	}
	if flags&0x80 != 0 {
		vli()
	}
	for f := 0; f <= int(flags&0x03) && i < size; f++ {
		id, n := vli(), vli()
		if id == 0x21 && n == 1 && i < size {
			d := uint64(hdr[i] & 0x3f)
			if d > 40 || (2|d&1)<<(d/2+11) > maxXZDict {
				return fmt.Errorf("%w: xz dictionary too large", ErrBadSnapshot)
			}
		}
		i += int(min(n, uint64(size)))
	}
	return nil
}

// snapshotName validates and cleans an entry name; "" means the root itself.
func snapshotName(name string) (string, error) {
	if name == "" || strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("%w: invalid entry name %q", ErrBadSnapshot, name)
	}
	if path.IsAbs(name) {
		return "", fmt.Errorf("%w: absolute entry name %q", ErrBadSnapshot, name)
	}
	for _, el := range strings.Split(strings.TrimSuffix(name, "/"), "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: entry name %q leaves the tree", ErrBadSnapshot, name)
		}
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// checkLinkTarget allows only relative targets made of leading ".." elements followed by
// plain names (the shape of sysfs and /dev/disk links), climbing no higher than the root.
// Since parents are real directories, such links cannot lead out of the tree even in chains.
func checkLinkTarget(name, target string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s: link target %q %s", ErrBadSnapshot, name, target, why)
	}
	if target == "" || path.IsAbs(target) || strings.ContainsRune(target, 0) {
		return bad("not allowed")
	}
	depth := 0
	if d := path.Dir(name); d != "." {
		depth = strings.Count(d, "/") + 1
	}
	names := false
	for _, el := range strings.Split(target, "/") {
		switch {
		case el == "..":
			if names {
				return bad("has .. after a name")
			}
			depth--
			if depth < 0 {
				return bad("leaves the tree")
			}
		case el == "" || el == ".":
			return bad("has an empty or . element")
		default:
			names = true
		}
	}
	return nil
}

// mkdirNoFollow creates dest/name and its parents, refusing to pass through symlinks.
func mkdirNoFollow(dest, name string) error {
	if name == "." || name == "" {
		return nil
	}
	cur := dest
	for _, el := range strings.Split(name, "/") {
		cur = filepath.Join(cur, el)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.IsDir():
			continue
		case err == nil:
			return fmt.Errorf("%w: %s: %s is not a directory", ErrBadSnapshot, name, el)
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", cur, err)
			}
		default:
			return fmt.Errorf("inspect %s: %w", cur, err)
		}
	}
	return nil
}

func writeNoFollow(dest, name string, r io.Reader) error {
	if err := mkdirNoFollow(dest, path.Dir(name)); err != nil {
		return err
	}
	p := filepath.Join(dest, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadSnapshot, name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s: %v", ErrBadSnapshot, name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}

// UnpackSnapshotFile unpacks the snapshot file into a new temporary directory and returns it
// with a function that removes it.
func UnpackSnapshotFile(file string) (string, func(), error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer f.Close()
	dir, err := os.MkdirTemp("", "machine-resources-snapshot-")
	if err != nil {
		return "", nil, fmt.Errorf("create snapshot directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := UnpackSnapshot(f, dir); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("unpack %s: %w", file, err)
	}
	return dir, cleanup, nil
}
