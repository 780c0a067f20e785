//go:build linux

package cli

import (
	"os"
	"syscall"
	"unsafe"
)

func tcget(fd uintptr) (syscall.Termios, error) {
	var t syscall.Termios
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&t))); errno != 0 {
		return t, errno
	}
	return t, nil
}

func tcset(fd uintptr, t *syscall.Termios) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(t))); errno != 0 {
		return errno
	}
	return nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := tcget(f.Fd())
	return err == nil
}

// readSecret reads a line from the terminal f with echo turned off.
func readSecret(f *os.File) (string, error) {
	fd := f.Fd()
	old, err := tcget(fd)
	if err != nil {
		return readLine(f)
	}
	quiet := old
	quiet.Lflag &^= syscall.ECHO
	quiet.Lflag |= syscall.ICANON | syscall.ISIG
	quiet.Iflag |= syscall.ICRNL
	if err := tcset(fd, &quiet); err != nil {
		return readLine(f)
	}
	defer tcset(fd, &old)
	return readLine(f)
}
