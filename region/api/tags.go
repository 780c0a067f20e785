package api

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"maasgo/region/store"
)

// tagName is what upstream accepts as a tag's name.
var tagName = regexp.MustCompile(`^[\w-]{1,256}$`)

type tagJSON struct {
	Name        string `json:"name"`
	Comment     string `json:"comment"`
	Definition  string `json:"definition"`
	KernelOpts  string `json:"kernel_opts"`
	ResourceURI string `json:"resource_uri"`
}

func renderTag(t *store.Tag) tagJSON {
	return tagJSON{Name: t.Name, Comment: t.Comment, ResourceURI: fmt.Sprintf("%s/tags/%s/", apiRoot, t.Name)}
}

func readTags(req *request) (any, error) {
	var tags []store.Tag
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		tags, err = tx.Tags()
		return err
	})
	out := []tagJSON{}
	for i := range tags {
		out = append(out, renderTag(&tags[i]))
	}
	return out, err
}

func createTag(req *request) (any, error) {
	name := req.params.Get("name")
	if !tagName.MatchString(name) {
		return nil, fieldError("name", "Tag names are 1 to 256 letters, digits, '_' and '-'.")
	}
	if req.params.Get("definition") != "" {
		return nil, fieldError("definition", "Tags defined by an XPath over the hardware are not supported: add machines with update_nodes.")
	}
	tag := &store.Tag{Name: name, Comment: req.params.Get("comment")}
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error { return tx.CreateTag(tag) })
	if errors.Is(err, store.ErrConflict) {
		return nil, fieldError("name", "Tag with this Name already exists.")
	}
	if err != nil {
		return nil, err
	}
	return renderTag(tag), nil
}

func loadTag(tx *store.Tx, req *request) (*store.Tag, error) {
	t, err := tx.TagByName(req.path["name"])
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No tag %s.", req.path["name"])
	}
	return t, err
}

func readTag(req *request) (any, error) {
	var t *store.Tag
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		t, err = loadTag(tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return renderTag(t), nil
}

// deleteTag removes a tag, from every machine too.
func deleteTag(req *request) (any, error) {
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		t, err := loadTag(tx, req)
		if err != nil {
			return err
		}
		ms, err := tx.Machines(store.MachineFilter{Tag: t.Name})
		if err != nil {
			return err
		}
		for i := range ms {
			if slices.Contains(ms[i].Tags, t.Name) {
				ms[i].Tags = slices.DeleteFunc(ms[i].Tags, func(s string) bool { return s == t.Name })
				if err := tx.UpdateMachine(&ms[i]); err != nil {
					return err
				}
			}
		}
		return tx.DeleteTag(t.Name)
	})
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// updateTagNodes answers op=update_nodes: add= and remove= name machines by system_id.
func updateTagNodes(req *request) (any, error) {
	add, remove := req.params.List("add"), req.params.List("remove")
	if len(add)+len(remove) > maxFilterValues {
		return nil, badRequest("At most %d machines at once.", maxFilterValues)
	}
	added, removed := 0, 0
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		added, removed = 0, 0
		t, err := loadTag(tx, req)
		if err != nil {
			return err
		}
		for _, change := range []struct {
			ids   []string
			param string
			add   bool
		}{{add, "add", true}, {remove, "remove", false}} {
			for _, id := range change.ids {
				m, err := tx.MachineBySystemID(id)
				if errors.Is(err, store.ErrNotFound) {
					return fieldError(change.param, "No machine "+id+".")
				} else if err != nil {
					return err
				}
				has := slices.Contains(m.Tags, t.Name)
				switch {
				case change.add && !has:
					m.Tags = append(m.Tags, t.Name)
					added++
				case !change.add && has:
					m.Tags = slices.DeleteFunc(m.Tags, func(s string) bool { return s == t.Name })
					removed++
				default:
					continue
				}
				if err := tx.UpdateMachine(m); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return map[string]int{"added": added, "removed": removed}, nil
}

// tagMachines answers op=machines: the machines with the tag the caller may see.
func tagMachines(req *request) (any, error) {
	var out []*machineJSON
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		t, err := loadTag(tx, req)
		if err != nil {
			return err
		}
		ms, err := tx.Machines(store.MachineFilter{Tag: t.Name})
		if err != nil {
			return err
		}
		ms = slices.DeleteFunc(ms, func(m store.Machine) bool { return !visible(req.user, &m) || !slices.Contains(m.Tags, t.Name) })
		out, err = renderMachines(tx, ms)
		return err
	})
	return out, err
}
