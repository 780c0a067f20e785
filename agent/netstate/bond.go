package netstate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Bonding is the kernel's bonding driver as the runner uses it: an aggregate's member rounds
// take the other members out of a bond and put them back. It is a seam: SysfsBonding is the
// kernel's, tests replay recorded answers (this project's test machines have no bonding
// module).
type Bonding interface {
	// Slaves lists a bond's members in the bond's order.
	Slaves(bond string) ([]string, error)
	// Release takes slave out of bond.
	Release(bond, slave string) error
	// Enslave puts slave into bond.
	Enslave(bond, slave string) error
}

// SysfsBonding changes bonds through /sys/class/net/<bond>/bonding/slaves, writing
// "-<slave>" and "+<slave>" as upstream's connectivity script does.
type SysfsBonding struct {
	Sys string // the sysfs mount, /sys
}

func (b SysfsBonding) slavesFile(bond string) (string, error) {
	if bond == "" || strings.ContainsAny(bond, "/\x00") || bond == "." || bond == ".." {
		return "", fmt.Errorf("bond name %q is not an interface name", bond)
	}
	return filepath.Join(b.Sys, "class", "net", bond, "bonding", "slaves"), nil
}

// Slaves implements Bonding.
func (b SysfsBonding) Slaves(bond string) ([]string, error) {
	path, err := b.slavesFile(bond)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the slaves of bond %s: %w", bond, err)
	}
	return strings.Fields(string(data)), nil
}

// Release implements Bonding.
func (b SysfsBonding) Release(bond, slave string) error { return b.write(bond, "-", slave) }

// Enslave implements Bonding.
func (b SysfsBonding) Enslave(bond, slave string) error { return b.write(bond, "+", slave) }

func (b SysfsBonding) write(bond, op, slave string) error {
	path, err := b.slavesFile(bond)
	if err != nil {
		return err
	}
	if slave == "" || strings.ContainsAny(slave, "/ \n\x00") {
		return fmt.Errorf("slave name %q is not an interface name", slave)
	}
	// The file exists only for a bond; never create one.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open the slaves of bond %s: %w", bond, err)
	}
	_, werr := f.WriteString(op + slave)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s%s to the slaves of bond %s: %w", op, slave, bond, werr)
	}
	return nil
}
