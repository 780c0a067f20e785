package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"maasgo/collectors/schema"
)

// environmentCollector fills environment from uname, the host name and os-release.
//
// Reads: /etc/os-release, /usr/lib/os-release, /etc/lsb-release; the Host seam (uname).
type environmentCollector struct{}

func (environmentCollector) Name() string { return "environment" }

func (environmentCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	e := schema.Environment{Server: "maas-machine-resources", ServerVersion: Version}
	name, version, err := osRelease(env.FS)
	if err != nil {
		return err
	}
	e.OSName, e.OSVersion = name, version
	u, err := env.Uname()
	if err != nil {
		doc.Environment = e
		return fmt.Errorf("uname: %w", err)
	}
	e.Kernel, e.KernelArchitecture, e.KernelVersion, e.ServerName = u.Sysname, u.Machine, u.Release, u.Hostname
	doc.Environment = e
	return nil
}

// osRelease returns the lowercased OS id and version: os-release first (unless it describes
// Ubuntu Core), then lsb-release.
func osRelease(f *FS) (string, string, error) {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := f.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", "", err
		}
		kv := ParseKeyValue(string(data))
		if kv["ID"] != "ubuntu-core" {
			return strings.ToLower(kv["ID"]), strings.ToLower(kv["VERSION_ID"]), nil
		}
	}
	data, err := f.ReadFile("/etc/lsb-release")
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	kv := ParseKeyValue(string(data))
	return strings.ToLower(kv["DISTRIB_ID"]), strings.ToLower(kv["DISTRIB_RELEASE"]), nil
}

// ParseKeyValue parses KEY=value lines (os-release, lsb-release, udev-style environ):
// comments and lines without "=" are skipped, quotes around keys and values are removed.
func ParseKeyValue(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.Trim(k, `'"`)] = strings.Trim(v, `'"`)
	}
	return out
}
