package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"maasgo/client"
)

// The key=value arguments of an action, read as upstream's CLI reads them, become the parts
// client.NewAPIRequest lays out.

// Arg is one key=value or key@=path command-line argument.
type Arg struct {
	Name  string
	Value string // the value, or the path for key@=path
	// FromFile is set for key@=path: the value is the named file's content.
	FromFile bool
}

// ErrNotPair says an argument is neither name=value nor name@=filename.
var ErrNotPair = errors.New("not a name=value or name@=filename pair")

// ParseArg splits an argument at the first "=" or "@=", whichever comes first, as
// upstream's CLI does: "a=b@=c" is a=("b@=c"), "script@=f.sh" reads f.sh. The name must not
// be empty.
func ParseArg(s string) (Arg, error) {
	i := strings.IndexByte(s, '=')
	if i < 0 {
		return Arg{}, fmt.Errorf("%q: %w", s, ErrNotPair)
	}
	a := Arg{Name: s[:i], Value: s[i+1:]}
	if i > 0 && s[i-1] == '@' {
		a = Arg{Name: s[:i-1], Value: s[i+1:], FromFile: true}
	}
	if a.Name == "" {
		return Arg{}, fmt.Errorf("%q: %w (the name is empty)", s, ErrNotPair)
	}
	return a, nil
}

// LooksLikePair reports whether s reads as a key=value argument whose key is an identifier
// (letters, digits, "_" and "-", not starting with a digit or "-"): what a user means as a
// keyword argument rather than a positional value.
func LooksLikePair(s string) bool {
	a, err := ParseArg(s)
	if err != nil {
		return false
	}
	for i := 0; i < len(a.Name); i++ {
		c := a.Name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// ScriptField is the field for which a plain value that names a readable file is read from
// that file, as if given with @= (the user guide writes script=PATH).
const ScriptField = "script"

// Warner receives notes about arguments taken literally.
type Warner func(format string, args ...any)

// Fields reads the files the arguments name into the parts to send: key@=path must name a
// readable file, sent as a file part. For script=VALUE, VALUE is read when it names an
// existing regular file, and sent as text otherwise (warn is told when VALUE looks like a
// path).
func Fields(args []Arg, warn Warner) ([]client.Part, error) {
	out := make([]client.Part, 0, len(args))
	for _, a := range args {
		switch {
		case a.FromFile:
			b, err := readFile(a.Value)
			if err != nil {
				return nil, fmt.Errorf("%s@=%s: %w", a.Name, a.Value, err)
			}
			out = append(out, client.Part{Name: a.Name, Value: string(b), File: true})
		case a.Name == ScriptField && a.Value != "":
			fi, err := os.Stat(a.Value)
			switch {
			case err == nil && fi.Mode().IsRegular():
				b, err := readFile(a.Value)
				if err != nil {
					return nil, fmt.Errorf("%s=%s: %w", a.Name, a.Value, err)
				}
				out = append(out, client.Part{Name: a.Name, Value: string(b), File: true})
			default:
				if warn != nil && !strings.ContainsAny(a.Value, "\n") && (strings.ContainsRune(a.Value, '/') || errors.Is(err, fs.ErrPermission)) {
					warn("%s=%s is not a readable file: sending the text itself", a.Name, a.Value)
				}
				out = append(out, client.Part{Name: a.Name, Value: a.Value})
			}
		default:
			out = append(out, client.Part{Name: a.Name, Value: a.Value})
		}
	}
	return out, nil
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// The argument already names the path.
			return nil, pe.Err
		}
		return nil, err
	}
	return b, nil
}
