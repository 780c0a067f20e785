package api

import (
	"errors"
	"net/http"
	"strings"

	"maasgo/region/inventory"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
)

// profileJSON is how the API shows a hardware profile.
type profileJSON struct {
	Source  *string            `json:"source"` // "machine", "tag:NAME", or null when none applies
	Profile *inventory.Profile `json:"profile"`
	YAML    string             `json:"yaml"`
}

// profileFromParams reads the profile an action sets: written (profile=YAML), taken from a
// machine (from=SYSTEM_ID), or none (clear=true). It gives the YAML to store, "" to clear.
func profileFromParams(tx *store.Tx, req *request) (string, error) {
	p := req.params
	given := 0
	for _, k := range []string{"profile", "from", "clear"} {
		if p.Has(k) {
			given++
		}
	}
	if given != 1 {
		return "", badRequest("Give one of profile (YAML), from (a machine's system_id) or clear=true.")
	}
	switch {
	case p.Has("clear"):
		if !strings.EqualFold(p.Get("clear"), "true") {
			return "", fieldError("clear", "Only true clears the profile.")
		}
		return "", nil
	case p.Has("from"):
		m, err := tx.MachineBySystemID(p.Get("from"))
		if errors.Is(err, store.ErrNotFound) {
			return "", fieldError("from", "No machine "+p.Get("from")+".")
		} else if err != nil {
			return "", err
		}
		if !visible(req.user, m) {
			return "", fieldError("from", "No machine "+p.Get("from")+".")
		}
		prof, err := lifecycle.ProfileOfMachine(tx, m)
		if err != nil {
			return "", fieldError("from", err.Error())
		}
		return string(prof.YAML()), nil
	}
	prof, err := inventory.ParseProfile([]byte(p.Get("profile")))
	if err != nil {
		return "", fieldError("profile", err.Error())
	}
	return string(prof.YAML()), nil
}

func renderProfile(hp *store.HardwareProfile) (*profileJSON, error) {
	if hp == nil {
		return &profileJSON{}, nil
	}
	p, err := inventory.ParseProfile([]byte(hp.Profile))
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "The stored profile cannot be read: %v", err)
	}
	src := "machine"
	if hp.Tag != "" {
		src = "tag:" + hp.Tag
	}
	return &profileJSON{Source: &src, Profile: p, YAML: hp.Profile}, nil
}

// machineProfile answers op=hardware_profile: the profile that applies to the machine.
func machineProfile(req *request) (any, error) {
	var hp *store.HardwareProfile
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		hp, err = tx.HardwareProfileOf(m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return renderProfile(hp)
}

// setMachineProfile answers op=set_hardware_profile on a machine.
func setMachineProfile(req *request) (any, error) {
	var hp *store.HardwareProfile
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		y, err := profileFromParams(tx, req)
		if err != nil {
			return err
		}
		if err := tx.SetHardwareProfile(&m.ID, "", y); err != nil {
			return err
		}
		hp, err = tx.HardwareProfileOf(m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return renderProfile(hp)
}

// setTagProfile answers maas op=set_hardware_profile: the profile of the machines with a tag.
func setTagProfile(req *request) (any, error) {
	tag := strings.TrimSpace(req.params.Get("tag"))
	if tag == "" || len(tag) > 256 {
		return nil, fieldError("tag", "Name the tag (at most 256 characters).")
	}
	var hp *store.HardwareProfile
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		y, err := profileFromParams(tx, req)
		if err != nil {
			return err
		}
		if err := tx.SetHardwareProfile(nil, tag, y); err != nil {
			return err
		}
		if y != "" {
			hp = &store.HardwareProfile{Tag: tag, Profile: y}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return renderProfile(hp)
}

// tagProfiles answers maas op=hardware_profiles: every tag's profile.
func tagProfiles(req *request) (any, error) {
	var list []store.HardwareProfile
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		list, err = tx.TagHardwareProfiles()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []*profileJSON{}
	for i := range list {
		p, err := renderProfile(&list[i])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
