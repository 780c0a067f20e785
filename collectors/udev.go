package collectors

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
)

// udevInfo is the parsed udev database record of a device (/run/udev/data/b8:0).
type udevInfo struct {
	Env   map[string]string // E: properties
	Links []string          // S: symlinks below /dev
}

// readUdev reads the udev record of a block ("b") or character ("c") device; a missing
// record (no udev on the machine) gives an empty record.
func readUdev(f *FS, kind byte, majmin string) (udevInfo, error) {
	data, err := f.ReadFile("/run/udev/data/" + string(kind) + majmin)
	if errors.Is(err, fs.ErrNotExist) {
		return udevInfo{Env: map[string]string{}}, nil
	}
	if err != nil {
		return udevInfo{}, err
	}
	return parseUdevDB(string(data)), nil
}

// parseUdevDB parses a udev database record: "E:KEY=value" properties and "S:link" lines.
func parseUdevDB(s string) udevInfo {
	u := udevInfo{Env: map[string]string{}}
	for _, line := range strings.Split(s, "\n") {
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		switch line[0] {
		case 'E':
			if k, v, ok := strings.Cut(line[2:], "="); ok && k != "" {
				u.Env[k] = v
			}
		case 'S':
			if l := line[2:]; l != "" {
				u.Links = append(u.Links, l)
			}
		}
	}
	return u
}

// decodeUdevEnc decodes udev's \xHH escapes (ID_MODEL_ENC, ID_VENDOR_ENC) and trims spaces.
func decodeUdevEnc(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return strings.TrimSpace(b.String())
}
