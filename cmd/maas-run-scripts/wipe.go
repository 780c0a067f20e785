package main

import (
	"github.com/spf13/cobra"

	"maasgo/agent/wipe"
)

// wipeOpts are the flags of wipe-disks.
type wipeOpts struct {
	secure, quick          bool
	sysRoot, procRoot, dev string
}

// newWipeDisksCmd builds "wipe-disks", what the wipe-disks release script runs.
//
// Synopsis:
//
//	wipe-disks [--secure-erase] [--quick-erase] [DEVICE...]
//
// Without DEVICE it erases every disk sysfs lists that is not virtual (loop, ram, zram, dm,
// md), optical, removable or read-only. A DEVICE is a kernel name (sdb) or /dev/NAME of a
// whole block device. A disk that is mounted, holds the root file system or is swap is
// refused before any disk is written.
func newWipeDisksCmd() *cobra.Command {
	var o wipeOpts
	cmd := &cobra.Command{
		Use:   "wipe-disks [DEVICE...]",
		Short: "Erase the machine's disks (the wipe-disks release script); destroys their data",
		Long: `Erase disks: zero each one whole (the default), only its first and last 2 MiB
(--quick-erase: partition tables, RAID and LVM superblocks), or with the drive's secure
erase (--secure-erase; this runner zeroes the disk instead and says so). Without DEVICE
every physical, writable, non-removable disk is erased. Mounted disks, the root disk and
swap are refused, and each device is opened exclusively.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return wipe.Run(wipe.Options{SysRoot: o.sysRoot, ProcRoot: o.procRoot, DevRoot: o.dev,
				Devices: args, Secure: o.secure, Quick: o.quick, Out: cmd.OutOrStdout()})
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.secure, "secure-erase", false, "use the drive's secure erase (falls back to zeroing)")
	fl.BoolVar(&o.quick, "quick-erase", false, "zero only the first and last 2 MiB of each disk")
	fl.StringVar(&o.sysRoot, "sysfs", "/sys", "sysfs root")
	fl.StringVar(&o.procRoot, "proc", "/proc", "procfs root")
	fl.StringVar(&o.dev, "dev", "/dev", "device directory")
	for _, n := range []string{"sysfs", "proc", "dev"} {
		_ = fl.MarkHidden(n)
	}
	return cmd
}
