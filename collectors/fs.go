package collectors

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxLinkHops bounds symlink resolution, like the kernel's MAXSYMLINKS.
const maxLinkHops = 40

// FS reads machine paths ("/sys/class/net/eth0/address") below a set of Roots. It resolves
// symlinks itself, in machine path space, so that a tree unpacked anywhere behaves like the
// machine it came from, and so that a Recorder sees every link, directory and file that a
// collector touched. An FS is not safe for concurrent use.
type FS struct {
	mounts []mount
	rec    *Recorder
	dirs   map[string]string // resolved directories, keyed by the unresolved machine path
}

// NewFS returns an FS over roots. When rec is not nil, everything read is recorded in it.
func NewFS(roots Roots, rec *Recorder) *FS {
	return &FS{mounts: roots.mounts(), rec: rec, dirs: map[string]string{"/": "/"}}
}

// real maps a clean machine path to a real path. Paths above the mount points ("/", "/run")
// map to "" and are treated as directories.
func (f *FS) real(p string) string {
	for _, m := range f.mounts {
		switch {
		case p == m.logical:
			return m.real
		case m.logical == "/":
			return strings.TrimSuffix(m.real, "/") + p
		case strings.HasPrefix(p, m.logical+"/"):
			return m.real + p[len(m.logical):]
		}
	}
	return ""
}

func (f *FS) isVirtualDir(p string) bool {
	if p == "/" {
		return true
	}
	for _, m := range f.mounts {
		if m.logical != "/" && strings.HasPrefix(m.logical, p+"/") {
			return true
		}
	}
	return false
}

func cleanAbs(p string) (string, error) {
	if !path.IsAbs(p) {
		return "", fmt.Errorf("machine path %q is not absolute", p)
	}
	return path.Clean(p), nil
}

// resolveDir resolves every symlink in the directory path p.
func (f *FS) resolveDir(p string, hops int) (string, error) {
	if r, ok := f.dirs[p]; ok {
		return r, nil
	}
	if hops > maxLinkHops {
		return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
	}
	parent, err := f.resolveDir(path.Dir(p), hops)
	if err != nil {
		return "", err
	}
	r, err := f.resolveLast(path.Join(parent, path.Base(p)), hops)
	if err != nil {
		return "", err
	}
	f.dirs[p] = r
	return r, nil
}

// resolveLast follows p when its last element is a symlink; p's parent must be resolved.
func (f *FS) resolveLast(p string, hops int) (string, error) {
	for {
		if f.isVirtualDir(p) {
			return p, nil
		}
		rp := f.real(p)
		if rp == "" {
			return "", &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
		}
		fi, err := os.Lstat(rp)
		if err != nil {
			return "", &fs.PathError{Op: "lstat", Path: p, Err: unwrapPathErr(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		target, err := os.Readlink(rp)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: p, Err: unwrapPathErr(err)}
		}
		f.rec.link(p, target)
		hops++
		if hops > maxLinkHops {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		var next string
		if path.IsAbs(target) {
			next = path.Clean(target)
		} else {
			next = path.Join(path.Dir(p), target)
		}
		dir, err := f.resolveDir(path.Dir(next), hops)
		if err != nil {
			return "", err
		}
		p = path.Join(dir, path.Base(next))
	}
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// resolveParent returns the clean machine path p with every symlink in its directory
// resolved; its last element is left as it is.
func (f *FS) resolveParent(p string) (string, error) {
	p, err := cleanAbs(p)
	if err != nil {
		return "", err
	}
	dir, err := f.resolveDir(path.Dir(p), 0)
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(p)), nil
}

// Resolve returns p with every symlink resolved (the machine's realpath).
func (f *FS) Resolve(p string) (string, error) {
	lp, err := f.resolveParent(p)
	if err != nil {
		return "", err
	}
	return f.resolveLast(lp, 0)
}

// ReadFile reads the file at p and records it.
func (f *FS) ReadFile(p string) ([]byte, error) {
	data, rp, err := f.ReadFileUnrecorded(p)
	if err != nil {
		return nil, err
	}
	f.rec.file(rp, data)
	return data, nil
}

// ReadFileUnrecorded reads the file at p without recording its content (links on the way are
// still recorded) and returns its machine path with the directories resolved, so that a
// caller can record a reduced copy with Record. The last element is opened directly: when it
// is itself a symlink, a recording holds the content at the link's path.
func (f *FS) ReadFileUnrecorded(p string) ([]byte, string, error) {
	rp, err := f.resolveForRead(p)
	if err != nil {
		return nil, "", err
	}
	data, err := readRaw(f.real(rp))
	if err != nil {
		return nil, "", &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return data, rp, nil
}

func (f *FS) resolveForRead(p string) (string, error) {
	rp, err := f.resolveParent(p)
	if err != nil {
		return "", err
	}
	if f.isVirtualDir(rp) || f.real(rp) == "" {
		return "", &fs.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	return rp, nil
}

// ReadFiles reads several files and records them (reading them side by side was tried:
// the extra threads cost more memory than the time saved). A missing file gives nil
// data and a nil error; other errors are returned.
func (f *FS) ReadFiles(paths []string) ([][]byte, error) {
	rps := make([]string, len(paths))
	for i, p := range paths {
		rp, err := f.resolveForRead(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		rps[i] = rp
	}
	out := make([][]byte, len(paths))
	errs := make([]error, len(paths))
	for i, rp := range rps {
		if rp != "" {
			out[i], errs[i] = readRaw(f.real(rp))
		}
	}
	for i, err := range errs {
		switch {
		case err == nil && rps[i] != "":
			f.rec.file(rps[i], out[i])
		case errors.Is(err, fs.ErrNotExist):
			out[i] = nil
		case err != nil:
			return nil, &fs.PathError{Op: "read", Path: paths[i], Err: err}
		}
	}
	return out, nil
}

// readRaw reads a whole file with plain system calls (no poller registration, which costs
// two extra calls per sysfs attribute with os.ReadFile).
func readRaw(real string) ([]byte, error) {
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	for err == unix.EINTR {
		fd, err = unix.Open(real, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	size := 512
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Size > 4096 && st.Size < 1<<30 {
		size = int(st.Size) + 1 // a real file (sysfs attributes all claim 4096 bytes)
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// Record records data as the content of the resolved machine path rp.
func (f *FS) Record(rp string, data []byte) { f.rec.file(rp, data) }

// ReadString reads p and trims surrounding white space.
func (f *FS) ReadString(p string) (string, error) {
	b, err := f.ReadFile(p)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	Type fs.FileMode // fs.ModeDir, fs.ModeSymlink or 0 for other files
}

// ReadDir lists the directory p, sorted by name, and records the listing: links with their
// targets, directories, and other files as empty placeholders unless read later.
func (f *FS) ReadDir(p string) ([]DirEntry, error) {
	p, err := cleanAbs(p)
	if err != nil {
		return nil, err
	}
	rp, err := f.Resolve(p)
	if err != nil {
		return nil, err
	}
	real := f.real(rp)
	if real == "" {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: fs.ErrNotExist}
	}
	ents, err := os.ReadDir(real)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: p, Err: unwrapPathErr(err)}
	}
	f.rec.dir(rp)
	out := make([]DirEntry, 0, len(ents))
	for _, e := range ents {
		t := e.Type() & (fs.ModeDir | fs.ModeSymlink)
		child := path.Join(rp, e.Name())
		if f.rec != nil {
			switch {
			case t&fs.ModeSymlink != 0:
				if target, err := os.Readlink(real + "/" + e.Name()); err == nil {
					f.rec.link(child, target)
				}
			case t&fs.ModeDir != 0:
				f.rec.dir(child)
			default:
				f.rec.placeholder(child)
			}
		}
		out = append(out, DirEntry{Name: e.Name(), Type: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat reports whether p exists and whether it is a directory (after following links). The
// answer is recorded.
func (f *FS) Stat(p string) (exists, isDir bool, err error) {
	rp, err := f.Resolve(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return false, false, nil
		}
		return false, false, err
	}
	if f.isVirtualDir(rp) {
		return true, true, nil
	}
	fi, err := os.Stat(f.real(rp))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, false, nil
		}
		return false, false, &fs.PathError{Op: "stat", Path: p, Err: unwrapPathErr(err)}
	}
	if fi.IsDir() {
		f.rec.dir(rp)
	} else {
		f.rec.placeholder(rp)
	}
	return true, fi.IsDir(), nil
}

// Exists reports whether p exists; errors other than "does not exist" count as absent.
func (f *FS) Exists(p string) bool {
	ok, _, _ := f.Stat(p)
	return ok
}

// Lexists reports whether p exists without following its last element when that is a
// symlink, as lstat(2) does: a dangling link exists. Any error counts as absent. The answer
// is recorded.
func (f *FS) Lexists(p string) bool {
	lp, err := f.resolveParent(p)
	if err != nil {
		return false
	}
	if f.isVirtualDir(lp) {
		return true
	}
	real := f.real(lp)
	if real == "" {
		return false
	}
	fi, err := os.Lstat(real)
	if err != nil {
		return false
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(real)
		if err != nil {
			return false
		}
		f.rec.link(lp, target)
	case fi.IsDir():
		f.rec.dir(lp)
	default:
		f.rec.placeholder(lp)
	}
	return true
}

// IsDir reports whether p is an existing directory.
func (f *FS) IsDir(p string) bool {
	_, d, _ := f.Stat(p)
	return d
}

// Readlink returns the target of the symlink p (its parent directory is resolved first).
func (f *FS) Readlink(p string) (string, error) {
	lp, err := f.resolveParent(p)
	if err != nil {
		return "", err
	}
	real := f.real(lp)
	if real == "" {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: syscall.EINVAL}
	}
	target, err := os.Readlink(real)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: p, Err: unwrapPathErr(err)}
	}
	f.rec.link(lp, target)
	return target, nil
}

// LinkBase returns the last element of the symlink target of p, or "" when p is not a
// readable link (for example device/driver → "e1000e").
func (f *FS) LinkBase(p string) string {
	t, err := f.Readlink(p)
	if err != nil {
		return ""
	}
	return path.Base(t)
}
