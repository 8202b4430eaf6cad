package opaque

import (
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type pos struct {
	S int64 `json:"s"`
	V any   `json:"v,omitempty"`
}

func TestRoundTrip(t *testing.T) {
	var got pos
	require.NoError(t, Decode(Encode(pos{S: 7, V: 12345678901234567}), &got))
	assert.Equal(t, pos{S: 7, V: json.Number("12345678901234567")}, got, "numbers stay exact")
}

func TestDecodeIsStrict(t *testing.T) {
	raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, token := range []string{"%%%", raw(`{"s":1,"x":2}`), raw(`{"s":1} {}`), raw(`{"s":`), raw(`[1]`)} {
		var p pos
		assert.Error(t, Decode(token, &p), "%q", token)
	}
}
