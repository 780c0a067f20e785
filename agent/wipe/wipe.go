package wipe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Options say what Run erases and how.
type Options struct {
	SysRoot  string // /sys
	ProcRoot string // /proc
	DevRoot  string // /dev
	// Devices are the devices named on the command line (NAME or /dev/NAME); empty means
	// every disk ListDisks finds.
	Devices []string
	Secure  bool // the drive's secure erase, falling back to zeroing
	Quick   bool // only the first and last QuickSpan bytes
	Out     io.Writer
}

// Run erases the disks, one after the other, and fails when any could not be erased. A disk
// in use is refused before anything is written to any disk.
func Run(o Options) error {
	var (
		disks []Disk
		err   error
	)
	if len(o.Devices) > 0 {
		disks, err = Named(o.SysRoot, o.DevRoot, o.Devices)
	} else {
		disks, err = ListDisks(o.SysRoot, o.DevRoot)
	}
	if err != nil {
		return err
	}
	if len(disks) == 0 {
		fmt.Fprintln(o.Out, "No disks to erase.")
		return nil
	}
	for _, d := range disks {
		if err := checkFree(d, o.SysRoot, o.ProcRoot); err != nil {
			return err
		}
		if h := holders(o.SysRoot, d.Name); len(h) > 0 {
			fmt.Fprintf(o.Out, "%s: held by %v; erasing it destroys them\n", d.Name, h)
		}
	}
	var failed []error
	for _, d := range disks {
		if err := eraseOne(d, o); err != nil {
			fmt.Fprintf(o.Out, "%s: %v\n", d.Name, err)
			failed = append(failed, err)
			continue
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d disks not erased: %w", len(failed), len(disks), errors.Join(failed...))
	}
	fmt.Fprintf(o.Out, "Erased %d disks.\n", len(disks))
	return nil
}

// eraseOne erases one disk, opened exclusively so that the kernel refuses a device that is
// mounted or held.
func eraseOne(d Disk, o Options) error {
	if o.Secure {
		if err := secureErase(d); err != nil {
			how := "full erase"
			if o.Quick {
				how = "quick erase"
			}
			fmt.Fprintf(o.Out, "%v, falling back to %s\n", err, how)
		} else {
			fmt.Fprintf(o.Out, "%s: secure erased\n", d.Name)
			return nil
		}
	}
	f, err := os.OpenFile(d.Path, os.O_WRONLY|syscall.O_EXCL|syscall.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	size, err := Size(f)
	if err != nil {
		return err
	}
	if o.Quick {
		fmt.Fprintf(o.Out, "%s: quick erase (first and last %d MiB of %d bytes)\n", d.Name, QuickSpan>>20, size)
		err = QuickErase(f, size)
	} else {
		fmt.Fprintf(o.Out, "%s: zeroing %d bytes\n", d.Name, size)
		err = FullErase(f, size, o.Out)
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	fmt.Fprintf(o.Out, "%s: erased\n", d.Name)
	return nil
}
