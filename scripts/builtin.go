package scripts

import (
	"embed"
	"fmt"
	"io/fs"
	"path"

	"maasgo/wire"
)

// builtinFS holds the built-in scripts, one file per script, named after the script, in the
// directory of its type. The same layout is used inside the scripts tar.
//
//go:embed commissioning release testing
var builtinFS embed.FS

// Builtin is one of the scripts that ship with the project.
type Builtin struct {
	Name     string
	Type     wire.ScriptType
	Path     string // "commissioning/maas-lshw": the path inside the scripts tar
	Body     []byte // the script as it is run and downloaded; callers must not modify it
	Metadata *Metadata
}

// Tags is the built-in's tag list as the region stores it, automatic tags included.
func (b Builtin) Tags() []string { return b.Metadata.EffectiveTags() }

// FS is the tree of built-in scripts: commissioning/<name>, release/<name> and testing/<name>.
func FS() fs.FS { return builtinFS }

// Builtins parses every built-in script and returns them sorted by path (commissioning
// scripts first, then release scripts, then testing scripts, each by name). It fails if a script's metadata is
// invalid, or names the script differently from its file, or gives it a type other than its
// directory's.
func Builtins() ([]Builtin, error) {
	var out []Builtin
	for _, t := range []wire.ScriptType{wire.ScriptTypeCommissioning, wire.ScriptTypeRelease, wire.ScriptTypeTesting} {
		dir := t.Dir()
		entries, err := fs.ReadDir(builtinFS, dir)
		if err != nil {
			return nil, fmt.Errorf("read built-in scripts: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			p := path.Join(dir, e.Name())
			body, err := fs.ReadFile(builtinFS, p)
			if err != nil {
				return nil, fmt.Errorf("read built-in script %s: %w", p, err)
			}
			md, err := Parse(body)
			if err != nil {
				return nil, fmt.Errorf("built-in script %s: %w", p, err)
			}
			if md.Name != e.Name() {
				return nil, fmt.Errorf("built-in script %s: name: %q does not match the file name", p, md.Name)
			}
			if !md.Has(KeyScriptType) || md.ScriptType != t {
				return nil, fmt.Errorf("built-in script %s: script_type: want %s", p, dir)
			}
			out = append(out, Builtin{Name: md.Name, Type: t, Path: p, Body: body, Metadata: md})
		}
	}
	return out, nil
}
