package events

import (
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// SETType is the media type of a Security Event Token (RFC 8417 §2.3,
// §7.2): the "typ" header of every SET this package makes, and the
// Content-Type of a push (RFC 8935 §2.1).
const SETType = "secevent+jwt"

// A Signer secures the claims of a SET as a compact JWT (RFC 7519). It is
// called with the claims as JSON, and returns the token.
//
// Unsecured and JWS are the two this package offers; a host whose keys
// live in a KMS gives JWS a go-jose OpaqueSigner, or writes its own.
type Signer interface {
	Sign(claims []byte) (string, error)
}

// Unsecured returns the Signer of unsecured SETs: JWTs with the header
// {"alg":"none","typ":"secevent+jwt"} and an empty signature (RFC 7519
// §6). It is the Publisher's default.
//
// RFC 8417 lets a SET go unsigned when its integrity is ensured by other
// means (§5.1), such as TLS (§2.4), and RFC 9967 §5 asks for TLS in any
// case; RFC 8417's own example and RFC 8936's poll example are unsecured. That fits
// a receiver that polls the service itself, over TLS, authenticated, or a
// push to a receiver's https URL. When SETs travel through a hub or a
// proxy that ends TLS, or are kept as evidence, sign them (JWS): RFC 9967
// §5 then requires the receiver to check the signature.
func Unsecured() Signer { return unsecured{} }

type unsecured struct{}

// The header of every unsecured SET, in base64url.
var unsecuredHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"` + SETType + `"}`))

func (unsecured) Sign(claims []byte) (string, error) {
	return unsecuredHeader + "." + base64.RawURLEncoding.EncodeToString(claims) + ".", nil
}

// JWS returns a Signer of SETs signed (RFC 7515, compact serialisation)
// by github.com/go-jose/go-jose/v4 with the algorithm alg ("ES256",
// "RS256", "PS256", "EdDSA", "HS256", …) and key: a private key
// (*ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey), an HMAC
// secret ([]byte), a *jose.JSONWebKey, or a jose.OpaqueSigner (for a
// crypto.Signer in an HSM or KMS, cryptosigner.Opaque). keyID, when not
// empty, is the "kid" header the receiver finds the public key by. The
// header's "typ" is "secevent+jwt" (RFC 8417 §2.3).
func JWS(alg string, key any, keyID string) (Signer, error) {
	if alg == "" || alg == "none" {
		return nil, errors.New(`events: JWS needs a signing algorithm; for unsecured SETs use Unsecured()`)
	}
	if key == nil {
		return nil, errors.New("events: JWS needs a key")
	}
	opts := (&jose.SignerOptions{}).WithType(SETType)
	if keyID != "" {
		opts = opts.WithHeader("kid", keyID)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("events: JWS signer (%s): %w", alg, err)
	}
	return jwsSigner{s}, nil
}

type jwsSigner struct{ s jose.Signer }

func (j jwsSigner) Sign(claims []byte) (string, error) {
	obj, err := j.s.Sign(claims)
	if err != nil {
		return "", fmt.Errorf("events: signing a SET: %w", err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("events: serialising a SET: %w", err)
	}
	return token, nil
}
