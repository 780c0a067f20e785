package collectors

import "path/filepath"

// Roots names the filesystem trees the collectors read. Every collector receives them as a
// parameter; nothing in this package reads a hard-coded host path. Each field is the real
// directory that stands for the machine path in its comment.
type Roots struct {
	Sys  string // /sys
	Proc string // /proc
	Dev  string // /dev
	Udev string // /run/udev
	Etc  string // /etc
	Usr  string // /usr (hwdata id databases, /usr/lib/os-release)
	Var  string // /var (the agent checks the apt cache)
	// Root stands for every other machine path (for example /.dockerenv); "" hides them.
	Root string
}

// HostRoots returns the roots of the running machine.
func HostRoots() Roots {
	return Roots{Sys: "/sys", Proc: "/proc", Dev: "/dev", Udev: "/run/udev", Etc: "/etc", Usr: "/usr", Var: "/var", Root: "/"}
}

// RootsAt returns roots below dir, laid out like a machine's root directory (an unpacked
// snapshot or a fixture tree).
func RootsAt(dir string) Roots {
	return Roots{
		Sys:  filepath.Join(dir, "sys"),
		Proc: filepath.Join(dir, "proc"),
		Dev:  filepath.Join(dir, "dev"),
		Udev: filepath.Join(dir, "run", "udev"),
		Etc:  filepath.Join(dir, "etc"),
		Usr:  filepath.Join(dir, "usr"),
		Var:  filepath.Join(dir, "var"),
		Root: dir,
	}
}

// mounts maps machine paths to the real directories, longest prefix first.
func (r Roots) mounts() []mount {
	m := []mount{
		{"/run/udev", r.Udev},
		{"/proc", r.Proc},
		{"/sys", r.Sys},
		{"/dev", r.Dev},
		{"/etc", r.Etc},
		{"/usr", r.Usr},
		{"/var", r.Var},
	}
	if r.Root != "" {
		m = append(m, mount{"/", r.Root})
	}
	return m
}

type mount struct {
	logical string
	real    string
}
