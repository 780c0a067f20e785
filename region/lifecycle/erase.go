package lifecycle

import (
	"errors"
	"fmt"
	"strconv"

	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/wire"
)

// WipeDisks is the built-in release script a disk erasing runs.
const WipeDisks = "wipe-disks"

// ReleaseOptions are a release's choices (upstream's release op): nil erase options take the
// settings enable_disk_erasing_on_release, disk_erase_with_secure_erase and
// disk_erase_with_quick_erase.
type ReleaseOptions struct {
	Comment     string
	Erase       *bool
	SecureErase *bool
	QuickErase  *bool
}

// ReleaseWith releases m: at once (Release), or, when its disks are to be erased, through
// Disk erasing (StartDiskErasing).
func ReleaseWith(tx *store.Tx, m *store.Machine, user *store.User, opts ReleaseOptions) error {
	erase, err := choose(tx, opts.Erase, "enable_disk_erasing_on_release")
	if err != nil {
		return err
	}
	if !erase || m.Status == wire.NodeReady {
		return Release(tx, m, user, opts.Comment)
	}
	return StartDiskErasing(tx, m, user, opts)
}

// StartDiskErasing moves m to Disk erasing (upstream's start_disk_erasing): a release set
// holding the wipe-disks script with its secure_erase and quick_erase parameters becomes the
// machine's current one, and the machine is powered on to boot the ephemeral environment,
// whose runner runs the release scripts. Its OK signal releases the machine (Ready, owner
// cleared); FAILED or a failed result makes it Failed disk erasing, as an abort does. The
// owner stays until then.
func StartDiskErasing(tx *store.Tx, m *store.Machine, user *store.User, opts ReleaseOptions) error {
	switch m.Status {
	case wire.NodeAllocated, wire.NodeDeployed, wire.NodeDeploying, wire.NodeFailedDeployment, wire.NodeFailedReleasing,
		wire.NodeFailedDiskErasing:
	default:
		return StateErrorf("Cannot erase the disks of %s: the machine is %s.", m.Hostname, m.Status.Label())
	}
	if m.OwnerID != nil && *m.OwnerID != user.ID && !user.IsAdmin {
		return &PermissionError{Msg: fmt.Sprintf("Machine %s is owned by %s.", m.SystemID, m.Owner)}
	}
	if m.Locked {
		return StateErrorf("Cannot erase the disks of %s: the machine is locked.", m.Hostname)
	}
	secure, err := choose(tx, opts.SecureErase, "disk_erase_with_secure_erase")
	if err != nil {
		return err
	}
	quick, err := choose(tx, opts.QuickErase, "disk_erase_with_quick_erase")
	if err != nil {
		return err
	}
	s, err := tx.ScriptByName(WipeDisks)
	if errors.Is(err, store.ErrNotFound) {
		return StateErrorf("Cannot erase the disks of %s: the %s release script is missing.", m.Hostname, WipeDisks)
	} else if err != nil {
		return err
	}
	if s.Type != wire.ScriptTypeRelease {
		return StateErrorf("Cannot erase the disks of %s: %s is not a release script.", m.Hostname, WipeDisks)
	}
	if err := abortUnfinished(tx, currentSets(m)); err != nil {
		return err
	}
	in := ParamInputs{WipeDisks + "_secure_erase": strconv.FormatBool(secure), WipeDisks + "_quick_erase": strconv.FormatBool(quick)}
	set, err := newSet(tx, m, wire.ResultRelease, []store.Script{*s}, in, nil)
	if err != nil {
		return err
	}
	if err := SetStatus(m, wire.NodeDiskErasing); err != nil {
		return err
	}
	m.CurrentReleaseSet = &set.ID
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := fmt.Sprintf("started by %s: %s", user.Username, eraseMode(secure, quick))
	if opts.Comment != "" {
		desc += ": " + opts.Comment
	}
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Disk erasing", Description: desc, Username: user.Username}); err != nil {
		return err
	}
	return powerOn(tx, m, user)
}

// eraseMode names how the disks are erased.
func eraseMode(secure, quick bool) string {
	switch {
	case secure && quick:
		return "secure erase, else quick erase"
	case secure:
		return "secure erase, else full erase"
	case quick:
		return "quick erase"
	}
	return "full erase"
}

// choose is the request's value, else the boolean setting's.
func choose(tx *store.Tx, given *bool, setting string) (bool, error) {
	if given != nil {
		return *given, nil
	}
	return config.Bool(tx, setting)
}

// finishDiskErasing completes the release of a machine whose disks were erased (its OK
// signal moved it to Ready): its deployment is forgotten, as Release does.
func finishDiskErasing(tx *store.Tx, m *store.Machine) error {
	clearDeployment(m)
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Released", Description: "disks erased"})
}
