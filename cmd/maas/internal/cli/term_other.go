//go:build !linux

package cli

import "os"

// isTerminal reports whether f is a character device, the best guess without terminal
// ioctls.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// readSecret reads a line from f; this platform's build cannot turn echo off.
func readSecret(f *os.File) (string, error) { return readLine(f) }
