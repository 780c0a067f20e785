package lifecycle

import (
	"errors"
	"regexp"

	"maasgo/region/store"
)

// usernameRE is upstream's (Django's) rule: letters, digits and @ . + - _.
var usernameRE = regexp.MustCompile(`^[\p{L}\p{N}@.+_-]{1,150}$`)

// ValidateUsername checks a new user's name.
func ValidateUsername(name string) error {
	if name == "" {
		return fieldErrorf("username", "This field is required.")
	}
	if !usernameRE.MatchString(name) {
		return fieldErrorf("username", "%q is not a valid username: use at most 150 letters, digits and @ . + - _.", name)
	}
	return nil
}

// CreateUser adds a user with one API key, which it returns with the user. A name that is
// taken is a field error.
func CreateUser(tx *store.Tx, name, email string, admin bool) (*store.User, *store.Token, error) {
	if err := ValidateUsername(name); err != nil {
		return nil, nil, err
	}
	u := &store.User{Username: name, Email: email, IsAdmin: admin}
	if err := tx.CreateUser(u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, nil, fieldErrorf("username", "A user with that username already exists.")
		}
		return nil, nil, err
	}
	tok := store.NewToken(store.TokenUser)
	tok.UserID = &u.ID
	if err := tx.CreateToken(tok); err != nil {
		return nil, nil, err
	}
	return u, tok, nil
}
