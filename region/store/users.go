package store

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// User is a person (or program) with API keys.
type User struct {
	ID       int64
	Username string
	Email    string
	IsAdmin  bool
	Created  time.Time
}

// Token kinds.
const (
	TokenUser = "user" // an API key of a user
	TokenNode = "node" // a machine's metadata token
)

// Token is an OAuth consumer and token pair.
type Token struct {
	ID             int64
	Kind           string
	UserID         *int64
	NodeID         *int64
	ConsumerKey    string
	ConsumerSecret string
	TokenKey       string
	TokenSecret    string
	// Name is an API key's name (upstream's consumer name), "" for a machine's token.
	Name    string
	Created time.Time
}

// DefaultKeyName is the name of an API key made without one, as upstream names its consumers.
const DefaultKeyName = "MAAS consumer"

// APIKey renders the token as "consumer_key:token_key:token_secret".
func (t *Token) APIKey() string { return t.ConsumerKey + ":" + t.TokenKey + ":" + t.TokenSecret }

// CreateUser adds u and sets its ID; ErrConflict when the username is taken.
func (t *Tx) CreateUser(u *User) error {
	if u.Created.IsZero() {
		u.Created = time.Now()
	}
	id, err := t.insert(`INSERT INTO users (username, email, is_admin, created) VALUES (?, ?, ?, ?)`,
		u.Username, u.Email, u.IsAdmin, micros(u.Created))
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Username, err)
	}
	u.ID = id
	return nil
}

const userCols = `id, username, email, is_admin, created`

func scanUser(sc scanner) (*User, error) {
	var u User
	var created int64
	if err := sc.Scan(&u.ID, &u.Username, &u.Email, &u.IsAdmin, &created); err != nil {
		return nil, err
	}
	u.Created = fromMicros(created)
	return &u, nil
}

// UserByName finds a user by username.
func (t *Tx) UserByName(name string) (*User, error) {
	u, err := scanUser(t.queryRow(`SELECT `+userCols+` FROM users WHERE username = ?`, name))
	return u, notFound(err, fmt.Sprintf("user %q", name))
}

// UserByID finds a user by id.
func (t *Tx) UserByID(id int64) (*User, error) {
	u, err := scanUser(t.queryRow(`SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, fmt.Sprintf("user %d", id))
}

// Users lists every user by name.
func (t *Tx) Users() ([]User, error) {
	return queryAll(t, "users", scanUser, `SELECT `+userCols+` FROM users ORDER BY username`)
}

// DeleteUser removes a user and their API keys; their machines lose their owner.
func (t *Tx) DeleteUser(id int64) error {
	r, err := t.exec(`DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	return nil
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// RandomString returns n characters drawn uniformly from alphabet with crypto/rand.
func RandomString(n int, alphabet string) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	limit := 256 - 256%len(alphabet)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		if int(buf[0]) >= limit {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}

// NewToken makes fresh keys of upstream's sizes (18:18:32, alphanumeric) with an empty
// consumer secret, as upstream's API and node consumers have.
func NewToken(kind string) *Token {
	tok := &Token{
		Kind:        kind,
		ConsumerKey: RandomString(18, keyAlphabet),
		TokenKey:    RandomString(18, keyAlphabet),
		TokenSecret: RandomString(32, keyAlphabet),
	}
	if kind == TokenUser {
		tok.Name = DefaultKeyName
	}
	return tok
}

// CreateToken stores tok and sets its ID.
func (t *Tx) CreateToken(tok *Token) error {
	if tok.Created.IsZero() {
		tok.Created = time.Now()
	}
	id, err := t.insert(`INSERT INTO tokens (kind, user_id, node_id, consumer_key, consumer_secret, token_key, token_secret, name, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tok.Kind, nullInt(tok.UserID), nullInt(tok.NodeID), tok.ConsumerKey, tok.ConsumerSecret, tok.TokenKey, tok.TokenSecret, tok.Name, micros(tok.Created))
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	tok.ID = id
	return nil
}

const tokenCols = `id, kind, user_id, node_id, consumer_key, consumer_secret, token_key, token_secret, name, created`

func scanToken(sc scanner) (*Token, error) {
	var tok Token
	var uid, nid, created = nullInt(nil), nullInt(nil), int64(0)
	if err := sc.Scan(&tok.ID, &tok.Kind, &uid, &nid, &tok.ConsumerKey, &tok.ConsumerSecret, &tok.TokenKey, &tok.TokenSecret, &tok.Name, &created); err != nil {
		return nil, err
	}
	tok.UserID, tok.NodeID, tok.Created = fromNullInt(uid), fromNullInt(nid), fromMicros(created)
	return &tok, nil
}

// TokenByKey finds a token by its token key.
func (t *Tx) TokenByKey(key string) (*Token, error) {
	tok, err := scanToken(t.queryRow(`SELECT `+tokenCols+` FROM tokens WHERE token_key = ?`, key))
	return tok, notFound(err, "token")
}

// UserTokens lists a user's API keys, oldest first.
func (t *Tx) UserTokens(userID int64) ([]Token, error) {
	return t.tokens(`WHERE user_id = ? AND kind = 'user' ORDER BY id`, userID)
}

// NodeToken gives a machine's metadata token.
func (t *Tx) NodeToken(nodeID int64) (*Token, error) {
	toks, err := t.tokens(`WHERE node_id = ? AND kind = 'node' ORDER BY id DESC`, nodeID)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("token of machine %d: %w", nodeID, ErrNotFound)
	}
	return &toks[0], nil
}

func (t *Tx) tokens(where string, args ...any) ([]Token, error) {
	return queryAll(t, "tokens", scanToken, `SELECT `+tokenCols+` FROM tokens `+where, args...)
}

// DeleteToken removes a token by its key.
func (t *Tx) DeleteToken(key string) error {
	r, err := t.exec(`DELETE FROM tokens WHERE token_key = ?`, key)
	if err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("token: %w", ErrNotFound)
	}
	return nil
}

// UseNonce records that a nonce was seen with a token at time ts. It reports false when the
// pair was seen before (a replay).
func (t *Tx) UseNonce(tokenKey, nonce string, ts time.Time) (bool, error) {
	r, err := t.exec(`INSERT INTO nonces (token_key, nonce, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
		tokenKey, nonce, micros(ts))
	if err != nil {
		return false, fmt.Errorf("record nonce: %w", err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// NonceSeen reports whether a nonce was recorded with a token.
func (t *Tx) NonceSeen(tokenKey, nonce string) (bool, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM nonces WHERE token_key = ? AND nonce = ?`, tokenKey, nonce).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up nonce: %w", err)
	}
	return n > 0, nil
}

// Nonce is one nonce seen with a token at a request's timestamp.
type Nonce struct {
	TokenKey, Nonce string
	TS              time.Time
}

// RecordNonces records nonces already accepted; ones recorded before are left as they are.
func (t *Tx) RecordNonces(ns []Nonce) error {
	for _, n := range ns {
		if _, err := t.exec(`INSERT INTO nonces (token_key, nonce, ts) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			n.TokenKey, n.Nonce, micros(n.TS)); err != nil {
			return fmt.Errorf("record nonce: %w", err)
		}
	}
	return nil
}

// PruneNonces forgets nonces recorded before cutoff.
func (t *Tx) PruneNonces(cutoff time.Time) (int64, error) {
	r, err := t.exec(`DELETE FROM nonces WHERE ts < ?`, micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune nonces: %w", err)
	}
	return r.RowsAffected()
}

// Passwords are kept as argon2id hashes in the PHC string format,
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (base64 without padding): OWASP's minimum
// parameters, about 20 MiB and a few tens of milliseconds per hash.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
	// MaxPasswordLength bounds a password, in bytes. The API takes any shorter one, as
	// upstream's does; MinPasswordLength is what createadmin asks for.
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// ErrBadPassword is returned for a password too short or too long to be set.
var ErrBadPassword = errors.New("invalid password")

// HashPassword hashes a new password with argon2id and a random salt. It is slow by design:
// call it outside transactions (Update may run its function more than once).
func HashPassword(password string) (string, error) {
	if password == "" || len(password) > MaxPasswordLength {
		return "", fmt.Errorf("%w: use 1 to %d characters", ErrBadPassword, MaxPasswordLength)
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// dummyHash is checked against when a user has no password or does not exist, so that the
// answer takes as long as for a real one.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not a password of anyone")
	return h
})

// CheckPassword reports whether password matches hash (an empty or malformed hash matches
// nothing, after as much work as a real check).
func CheckPassword(hash, password string) bool {
	ok := hash != ""
	if !ok {
		hash = dummyHash()
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(password) > MaxPasswordLength {
		return false
	}
	var v int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && ok
}

// SetPasswordHash sets a user's password hash (from HashPassword); "" removes the password,
// leaving API keys as the user's only way in.
func (t *Tx) SetPasswordHash(userID int64, hash string) error {
	r, err := t.exec(`UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
	if err != nil {
		return fmt.Errorf("set password of user %d: %w", userID, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("user %d: %w", userID, ErrNotFound)
	}
	return nil
}

// PasswordHash reads a user's password hash, "" when the user has none.
func (t *Tx) PasswordHash(userID int64) (string, error) {
	var h string
	if err := t.queryRow(`SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&h); err != nil {
		return "", notFound(err, fmt.Sprintf("user %d", userID))
	}
	return h, nil
}
