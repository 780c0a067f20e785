package api

import "maasgo/region/store"

// nodePerm is what an action needs of the machine its path names, as upstream's
// NodePermission: a non-administrator sees and acts on unowned machines and their own, never
// on another user's; a locked machine refuses every change, an administrator's too.
type nodePerm int

const (
	nodeNone      nodePerm = iota // the action names no machine
	nodeView                      // read: administrators, the owner, anyone when unowned
	nodeEdit                      // deploy, release, abort, power: as view, and not locked
	nodeAdmin                     // change the machine itself: administrators, not locked
	nodeAdminRead                 // read secrets (the machine's token): administrators
)

func (p nodePerm) String() string {
	return [...]string{"none", "view", "edit", "admin", "admin-read"}[p]
}

// visible reports whether u may see m at all.
func visible(u *store.User, m *store.Machine) bool {
	return u != nil && (u.IsAdmin || m.OwnerID == nil || *m.OwnerID == u.ID)
}

// mayAct checks that u may act on m with permission p; the error is a 403 naming why.
func mayAct(u *store.User, m *store.Machine, p nodePerm) error {
	if u == nil {
		return forbidden("Machine tokens cannot use the API: they may only reach their own machine's metadata.")
	}
	switch p {
	case nodeView:
		if visible(u, m) {
			return nil
		}
	case nodeEdit:
		if m.Locked {
			return forbidden("Machine %s is locked.", m.SystemID)
		}
		if visible(u, m) {
			return nil
		}
	case nodeAdmin:
		if m.Locked {
			return forbidden("Machine %s is locked.", m.SystemID)
		}
		if u.IsAdmin {
			return nil
		}
		return forbidden("You do not have permission to change machine %s: administrators only.", m.SystemID)
	case nodeAdminRead:
		if u.IsAdmin {
			return nil
		}
		return forbidden("You do not have permission to read this of machine %s: administrators only.", m.SystemID)
	default:
		// Fail closed: an action on a machine must say what it needs (routes_test holds it).
		return forbidden("No permission rule for this action on machine %s.", m.SystemID)
	}
	return forbidden("You do not have permission to %s machine %s: it is owned by %s.", verb(p), m.SystemID, m.Owner)
}

func verb(p nodePerm) string {
	if p == nodeView {
		return "see"
	}
	return "act on"
}
