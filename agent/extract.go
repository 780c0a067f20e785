package agent

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/ulikunitz/xz"
)

// netplanMember is the one tar member allowed outside the scripts directory: the region puts
// the machine's configured networking there for apply_configured_networking scripts
// (protocol.md §4.2, pitfall 7). It lands in <storage>/config/netplan.yaml.
const netplanMember = "../config/netplan.yaml"

// ErrUnsafeArchive marks an archive member that would escape the directory or is of a type the
// runner does not extract.
var ErrUnsafeArchive = errors.New("unsafe archive member")

// Decompress returns a reader of r's content, undoing gzip, xz or bzip2 compression when the
// stream starts with one of their magic numbers (the region's tar is plain; upstream's
// clients accept all of them).
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(6)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		return xr, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	}
	return br, nil
}

// ExtractScripts unpacks the scripts tar r into scriptsDir. Members must stay inside
// scriptsDir, except "../config/netplan.yaml", which is written to configDir/netplan.yaml.
// Only regular files and directories are extracted; anything else, an absolute name or a name
// with ".." fails the extraction with ErrUnsafeArchive. Files keep their permission bits
// (without setuid, setgid and sticky) and are replaced atomically, so a script that is running
// keeps its old text.
func ExtractScripts(r io.Reader, scriptsDir, configDir string) error {
	return extractTar(r, scriptsDir, func(name string) (string, string, bool) {
		if name == netplanMember {
			return configDir, "netplan.yaml", true
		}
		return "", "", false
	})
}

// ExtractArchive unpacks a tar (possibly compressed) into dir with the same rules as
// ExtractScripts and no exception.
func ExtractArchive(r io.Reader, dir string) error {
	return extractTar(r, dir, nil)
}

// extractTar does the work; special maps a raw member name to another directory and name.
func extractTar(r io.Reader, dir string, special func(string) (string, string, bool)) error {
	plain, err := Decompress(r)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(plain)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extract: read tar: %w", err)
		}
		if special != nil {
			if d, name, ok := special(hdr.Name); ok {
				if hdr.Typeflag != tar.TypeReg {
					return fmt.Errorf("extract %s: %w: not a regular file", hdr.Name, ErrUnsafeArchive)
				}
				if err := os.MkdirAll(d, 0o755); err != nil {
					return fmt.Errorf("extract %s: %w", hdr.Name, err)
				}
				sub, err := os.OpenRoot(d)
				if err != nil {
					return fmt.Errorf("extract %s: %w", hdr.Name, err)
				}
				err = writeMember(sub, name, hdr, tr)
				sub.Close()
				if err != nil {
					return err
				}
				continue
			}
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name == "." {
				continue
			}
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
		case tar.TypeReg:
			if name == "." {
				return fmt.Errorf("extract %q: %w: a file without a name", hdr.Name, ErrUnsafeArchive)
			}
			if err := writeMember(root, name, hdr, tr); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("extract %s: %w: type %q is not extracted", hdr.Name, ErrUnsafeArchive, hdr.Typeflag)
		}
	}
}

// memberName cleans a member name and checks that it stays inside the directory.
func memberName(raw string) (string, error) {
	if raw == "" || strings.HasPrefix(raw, "/") || strings.ContainsRune(raw, 0) || strings.Contains(raw, `\`) {
		return "", fmt.Errorf("extract %q: %w: absolute or malformed name", raw, ErrUnsafeArchive)
	}
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", fmt.Errorf("extract %q: %w: name leaves the directory", raw, ErrUnsafeArchive)
		}
	}
	return filepath.FromSlash(path.Clean(raw)), nil
}

func writeMember(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", hdr.Name, err)
		}
	}
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".extracting")
	mode := os.FileMode(hdr.Mode).Perm()
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("extract %s: %w", hdr.Name, err)
	}
	return nil
}

func isTar(file string) bool {
	f, err := os.Open(file)
	if err != nil {
		return false
	}
	defer f.Close()
	plain, err := Decompress(f)
	if err != nil {
		return false
	}
	_, err = tar.NewReader(plain).Next()
	return err == nil
}

func isZip(file string) bool {
	z, err := zip.OpenReader(file)
	if err != nil {
		return false
	}
	z.Close()
	return true
}

func extractFile(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return ExtractArchive(f, dir)
}

// extractZip unpacks a zip archive into dir with the tar rules: no escapes, files and
// directories only.
func extractZip(file, dir string) error {
	z, err := zip.OpenReader(file)
	if err != nil {
		return fmt.Errorf("extract %s: %w", file, err)
	}
	defer z.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract %s: %w", file, err)
	}
	defer root.Close()
	for _, zf := range z.File {
		name, err := memberName(zf.Name)
		if err != nil {
			return err
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", zf.Name, err)
			}
		case mode.IsRegular():
			rc, err := zf.Open()
			if err != nil {
				return fmt.Errorf("extract %s: %w", zf.Name, err)
			}
			err = writeMember(root, name, &tar.Header{Name: zf.Name, Mode: int64(mode.Perm())}, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("extract %s: %w: not a file or directory", zf.Name, ErrUnsafeArchive)
		}
	}
	return nil
}
