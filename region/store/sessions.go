package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Session is a user's login to the web interface. The database keeps the SHA-256 of the
// session id, never the id itself, so a copy of the database lets nobody log in.
type Session struct {
	IDHash  string // hex SHA-256 of the id the browser holds
	UserID  int64
	CSRF    string // the session's CSRF token, which every form carries
	Created time.Time
	Expires time.Time
}

// HashSessionID gives the stored form of a session id.
func HashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateSession stores a session.
func (t *Tx) CreateSession(s *Session) error {
	if _, err := t.exec(`INSERT INTO sessions (id_hash, user_id, csrf, created, expires) VALUES (?, ?, ?, ?, ?)`,
		s.IDHash, s.UserID, s.CSRF, micros(s.Created), micros(s.Expires)); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash finds a session by the hash of its id, expired or not.
func (t *Tx) SessionByHash(idHash string) (*Session, error) {
	var s Session
	var created, expires int64
	err := t.queryRow(`SELECT id_hash, user_id, csrf, created, expires FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&s.IDHash, &s.UserID, &s.CSRF, &created, &expires)
	if err != nil {
		return nil, notFound(err, "session")
	}
	s.Created, s.Expires = fromMicros(created), fromMicros(expires)
	return &s, nil
}

// DeleteSession ends a session; ending one that is gone is no error.
func (t *Tx) DeleteSession(idHash string) error {
	if _, err := t.exec(`DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user (after a password change).
func (t *Tx) DeleteUserSessions(userID int64) error {
	if _, err := t.exec(`DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// PruneSessions forgets sessions that expired before now.
func (t *Tx) PruneSessions(now time.Time) (int64, error) {
	r, err := t.exec(`DELETE FROM sessions WHERE expires < ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return r.RowsAffected()
}
