// Package opaque writes and reads the tokens the module hands out for
// clients to bring back unchanged: RFC 9865 cursors and the stores' keyset
// positions. A token is JSON, base64url-encoded without padding.
package opaque

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// Encode returns v as a token. v holds strings, numbers and booleans, which
// always encode; Encode panics on anything that does not.
func Encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("opaque: encoding a token: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads token into v, strictly, as nothing but Encode made it:
// malformed base64 or JSON, a field v does not have and anything after the
// value are errors. Numbers in an any stay exact (json.Number).
func Decode(token string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("opaque: data after the token's value")
	}
	return nil
}
