package agent

import "maasgo/collectors"

// UnameMachine is the running kernel's machine name, as uname -m prints it;
// wire.MachineArch turns it into the Debian architecture the region takes.
func UnameMachine() (string, error) {
	u, err := collectors.HostUname()
	if err != nil {
		return "", err
	}
	return u.Machine, nil
}
