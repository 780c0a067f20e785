package wipe

import "fmt"

// secureErase would run the drive's own erase (ATA SECURITY ERASE UNIT, NVMe Format with
// secure erase settings). This runner does not issue those commands: a drive left in a
// security-locked state by an interrupted ATA erase needs a person, and the ioctls cannot
// be tested without the hardware. Like upstream with a drive that lacks the feature, it says
// so and the caller zeroes the disk instead.
func secureErase(d Disk) error {
	return fmt.Errorf("%s: secure erase not supported here", d.Name)
}
