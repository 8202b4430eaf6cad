package events_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim/events"
	"github.com/scimkit/scim/memstore"
)

// TestSignedSETsVerify: a Publisher with a JWS Signer makes SETs that
// verify with the public key (and not with another), whose payload is
// the claims, with typ secevent+jwt and the key's kid in the header.
func TestSignedSETsVerify(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	otherEC, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	otherEdPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	otherRS, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	secret := []byte("0123456789abcdef0123456789abcdef")

	tests := []struct {
		alg         string
		key         any
		verify, bad any
	}{
		{"ES256", ec, &ec.PublicKey, &otherEC.PublicKey},
		{"EdDSA", edPriv, edPub, otherEdPub},
		{"RS256", rs, &rs.PublicKey, &otherRS.PublicKey},
		{"PS256", rs, &rs.PublicKey, &otherRS.PublicKey},
		{"HS256", secret, secret, []byte("another secret, of 32 bytes.....")},
	}
	d := newDirectory(t, memstore.New())
	d.user("bjensen", "")
	c := d.last()
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			signer, err := events.JWS(tt.alg, tt.key, "key-2026")
			require.NoError(t, err)
			p := &events.Publisher{Issuer: "https://app.example.com", Audience: []string{"siem"}, Signer: signer}
			set, err := p.Render(context.Background(), c)
			require.NoError(t, err)

			jws, err := jose.ParseSigned(set.Token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.alg)})
			require.NoError(t, err)
			require.Len(t, jws.Signatures, 1)
			h := jws.Signatures[0].Header
			assert.Equal(t, "key-2026", h.KeyID)
			assert.Equal(t, tt.alg, h.Algorithm)
			assert.Equal(t, "secevent+jwt", h.ExtraHeaders[jose.HeaderType])

			payload, err := jws.Verify(tt.verify)
			require.NoError(t, err, "verifies with the public key")
			var got events.Claims
			require.NoError(t, json.Unmarshal(payload, &got))
			want := set.Claims
			assert.Equal(t, want.JTI, got.JTI)
			assert.Equal(t, want.SubID, got.SubID)
			assert.Equal(t, want.Txn, got.Txn)
			assert.Contains(t, got.Events, events.EventCreateNotice)

			_, err = jws.Verify(tt.bad)
			assert.Error(t, err, "another key does not verify it")
		})
	}
}

// TestJWSErrors: JWS refuses "none" and a missing or unusable key.
func TestJWSErrors(t *testing.T) {
	_, err := events.JWS("none", []byte("k"), "")
	assert.ErrorContains(t, err, "Unsecured")
	_, err = events.JWS("ES256", nil, "")
	assert.Error(t, err)
	_, err = events.JWS("ES256", []byte("not an EC key"), "")
	assert.Error(t, err)
}
