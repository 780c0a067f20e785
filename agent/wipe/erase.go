package wipe

import (
	"fmt"
	"io"
	"os"
)

// QuickSpan is how much a quick erase zeroes at each end of a disk: partition tables (MBR,
// GPT and its backup), RAID and LVM superblocks, file system signatures.
const QuickSpan = 2 << 20

// bufSize bounds the memory a full erase uses.
const bufSize = 4 << 20

// Size is the size in bytes of an open device or file.
func Size(f *os.File) (int64, error) {
	n, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("%s: size: %w", f.Name(), err)
	}
	_, err = f.Seek(0, io.SeekStart)
	return n, err
}

// QuickErase zeroes the first and last QuickSpan bytes of f (all of it when it is smaller
// than twice that) and syncs it.
func QuickErase(f *os.File, size int64) error {
	head := min(size, QuickSpan)
	if err := zero(f, 0, head, nil); err != nil {
		return err
	}
	if tail := max(size-QuickSpan, head); tail < size {
		if err := zero(f, tail, size, nil); err != nil {
			return err
		}
	}
	return f.Sync()
}

// FullErase zeroes all of f with a bounded buffer, writing a progress line to progress (if
// not nil) at every tenth, and syncs it.
func FullErase(f *os.File, size int64, progress io.Writer) error {
	if err := zero(f, 0, size, progress); err != nil {
		return err
	}
	return f.Sync()
}

// zero writes zeros over [from, to) of f.
func zero(f *os.File, from, to int64, progress io.Writer) error {
	buf := make([]byte, min(bufSize, max(to-from, 0)))
	next := int64(1)
	for off := from; off < to; {
		n := min(int64(len(buf)), to-off)
		w, err := f.WriteAt(buf[:n], off)
		if err != nil {
			return fmt.Errorf("%s: write at %d: %w", f.Name(), off, err)
		}
		off += int64(w)
		if progress != nil && to > from {
			for next <= 10 && (off-from)*10 >= (to-from)*next {
				fmt.Fprintf(progress, "%s: %d%% (%d of %d bytes)\n", f.Name(), next*10, off-from, to-from)
				next++
			}
		}
	}
	return nil
}
