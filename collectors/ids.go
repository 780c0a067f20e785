package collectors

import (
	"bytes"
	"errors"
	"io/fs"
	"sort"
	"strings"
)

// Id databases, searched in this order. A missing database means "names unknown".
var (
	pciIDsPaths = []string{"/usr/share/hwdata/pci.ids", "/usr/share/misc/pci.ids", "/usr/share/pci.ids"}
	usbIDsPaths = []string{"/usr/share/hwdata/usb.ids", "/usr/share/misc/usb.ids", "/usr/share/usb.ids"}
)

// idsDB looks names up in pci.ids and usb.ids without parsing the whole file: the database
// is read once and searched for the wanted lines. When recording, only the lines used are
// recorded, which keeps snapshots small and replays to the same names.
type idsDB struct {
	fs  *FS
	pci *idsFile
	usb *idsFile
}

func newIDsDB(f *FS) *idsDB { return &idsDB{fs: f} }

type idsFile struct {
	fs   *FS
	path string // resolved machine path, "" when no database exists
	data []byte
	used map[int]bool   // offsets of the lines used
	top  map[string]int // offsets of the top-level lines by key, built on first use
}

func (d *idsDB) load(paths []string) *idsFile {
	out := &idsFile{fs: d.fs, used: map[int]bool{}}
	for _, p := range paths {
		data, rp, err := d.fs.ReadFileUnrecorded(p)
		if err == nil {
			out.path, out.data = rp, data
			out.record()
			return out
		}
		if !errors.Is(err, fs.ErrNotExist) {
			d.fs.rec.placeholder(p)
		}
	}
	return out
}

func (d *idsDB) pciFile() *idsFile {
	if d.pci == nil {
		d.pci = d.load(pciIDsPaths)
	}
	return d.pci
}

func (d *idsDB) usbFile() *idsFile {
	if d.usb == nil {
		d.usb = d.load(usbIDsPaths)
	}
	return d.usb
}

// PCI returns the vendor and device names for 4-digit lowercase hex ids.
func (d *idsDB) PCI(vendor, device string) (string, string) {
	return d.pciFile().lookup(vendor, device)
}

// USB returns the vendor and product names for 4-digit lowercase hex ids.
func (d *idsDB) USB(vendor, product string) (string, string) {
	return d.usbFile().lookup(vendor, product)
}

// USBClass returns the names of a USB interface class and subclass (2-digit hex).
func (d *idsDB) USBClass(class, subclass string) (string, string) {
	return d.usbFile().lookupPrefixed("C "+class, subclass)
}

// record stores the used lines as the database's content in the recording.
func (f *idsFile) record() {
	if f.path == "" || f.fs.rec == nil {
		return
	}
	offs := make([]int, 0, len(f.used))
	for o := range f.used {
		offs = append(offs, o)
	}
	sort.Ints(offs)
	var b bytes.Buffer
	b.WriteString("# reduced copy: only the lines this machine uses\n")
	for _, o := range offs {
		b.Write(f.line(o))
		b.WriteByte('\n')
	}
	f.fs.Record(f.path, b.Bytes())
}

// line returns the line starting at offset o, without its newline.
func (f *idsFile) line(o int) []byte {
	end := bytes.IndexByte(f.data[o:], '\n')
	if end < 0 {
		return f.data[o:]
	}
	return f.data[o : o+end]
}

// findTop returns the offset of the top-level line that starts with key followed by two
// spaces, or -1. The first call indexes every top-level line in one pass.
func (f *idsFile) findTop(key string) int {
	if f.top == nil {
		f.top = map[string]int{}
		for o := 0; o < len(f.data); {
			end := bytes.IndexByte(f.data[o:], '\n')
			if end < 0 {
				end = len(f.data) - o
			}
			line := f.data[o : o+end]
			if len(line) > 0 && line[0] != '\t' && line[0] != '#' {
				if i := bytes.Index(line, []byte("  ")); i > 0 {
					if _, dup := f.top[string(line[:i])]; !dup {
						f.top[string(line[:i])] = o
					}
				}
			}
			o += end + 1
		}
	}
	if o, ok := f.top[key]; ok {
		return o
	}
	return -1
}

func (f *idsFile) lookup(top, sub string) (string, string) {
	return f.lookupPrefixed(top, sub)
}

// lookupPrefixed finds the top-level line "top  name" and, below it, the child line
// "\tsub  name".
func (f *idsFile) lookupPrefixed(top, sub string) (string, string) {
	if f.data == nil || top == "" {
		return "", ""
	}
	o := f.findTop(top)
	if o < 0 {
		return "", ""
	}
	f.used[o] = true
	topName := strings.TrimSpace(string(f.line(o)[len(top)+2:]))
	subName := ""
	if sub != "" {
		prefix := "\t" + sub + "  "
		for p := o + len(f.line(o)) + 1; p < len(f.data); {
			l := f.line(p)
			if len(l) > 0 && l[0] != '\t' && l[0] != '#' {
				break
			}
			if bytes.HasPrefix(l, []byte(prefix)) {
				f.used[p] = true
				subName = strings.TrimSpace(string(l[len(prefix):]))
				break
			}
			p += len(l) + 1
		}
	}
	f.record()
	return topName, subName
}
