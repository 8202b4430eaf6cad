package scim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PasswordHasher turns a password a client sends into what the store keeps.
// The handler calls it for every password a request assigns (POST, PUT,
// PATCH), never for one it carries over from the stored resource, and
// before the hooks see the resource.
type PasswordHasher interface {
	Hash(password string) (string, error)
}

// PasswordHasherFunc adapts a function to PasswordHasher.
type PasswordHasherFunc func(password string) (string, error)

// Hash calls f.
func (f PasswordHasherFunc) Hash(password string) (string, error) { return f(password) }

// WithPasswordHasher sets how passwords are hashed before a store sees
// them; the default is Argon2id{}. A host that checks passwords itself may
// pass its own; PasswordHasherFunc(func(p string) (string, error) { return
// p, nil }) keeps them as sent, which is rarely what a host wants.
func WithPasswordHasher(ph PasswordHasher) Option {
	return func(h *Handler) { h.passwords = ph }
}

// WithoutPasswords drops every password a client sends, so none is ever
// stored, and /ServiceProviderConfig says changePassword is not supported.
func WithoutPasswords() Option {
	return func(h *Handler) { h.dropPasswords = true }
}

// Argon2id hashes passwords with Argon2id (RFC 9106) and a random 16-byte
// salt, into the PHC string format
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>".
// VerifyPassword checks a password against such a hash. Zero fields take
// OWASP's recommended minimum: 19 MiB, 2 passes, 1 thread.
type Argon2id struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// argon2KeyLen is the length of the derived key, in bytes.
const argon2KeyLen = 32

// Hash implements PasswordHasher.
func (a Argon2id) Hash(password string) (string, error) {
	if a.Memory == 0 {
		a.Memory = 19 * 1024
	}
	if a.Time == 0 {
		a.Time = 2
	}
	if a.Threads == 0 {
		a.Threads = 1
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scim: password salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, a.Time, a.Memory, a.Threads, argon2KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, a.Memory, a.Time, a.Threads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// ErrPasswordHash is returned by VerifyPassword for a hash it cannot read.
var ErrPasswordHash = errors.New("scim: not an argon2id password hash")

// VerifyPassword reports whether password is the one hash was made from by
// Argon2id, in constant time.
func VerifyPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrPasswordHash
	}
	var version int
	var memory, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrPasswordHash
	}
	// Bounds keep a forged hash from making verification cost gigabytes.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &time, &threads); err != nil ||
		memory == 0 || memory > 1<<20 || time == 0 || time > 64 || threads == 0 {
		return false, ErrPasswordHash
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return false, ErrPasswordHash
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, ErrPasswordHash
	}
	got := argon2.IDKey([]byte(password), salt, time, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// securePassword hashes or drops the password attrs assigns. The caller
// passes only attributes the request assigned, never carried-over ones.
func (h *Handler) securePassword(rt *resourceType, attrs map[string]any) error {
	if d := rt.core.attr("password"); d == nil {
		return nil
	}
	v, ok := attrs["password"]
	if !ok {
		return nil
	}
	if h.dropPasswords {
		delete(attrs, "password")
		return nil
	}
	plain, ok := v.(string)
	if !ok || plain == "" {
		return nil
	}
	hashed, err := h.passwords.Hash(plain)
	if err != nil {
		return fmt.Errorf("scim: hashing a password: %w", err)
	}
	attrs["password"] = hashed
	return nil
}
