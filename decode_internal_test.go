package scim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A value's canonical sub-attribute wins over an alias of it, whichever
// comes first, when the body is decoded in place (POST, PUT) or copied.
func TestDecodeAliasLosesToCanonicalName(t *testing.T) {
	_, groups := compiledTypes(t)
	for _, owned := range []bool{false, true} {
		for _, body := range []string{
			`{"displayName":"g","members":[{"value":"u1","display":"canonical","displayName":"alias"}]}`,
			`{"displayName":"g","members":[{"displayName":"alias","value":"u1","display":"canonical"}]}`,
		} {
			v, err := parseJSON([]byte(body), DefaultLimits())
			require.NoError(t, err)
			attrs, err := decoder{rt: groups, owned: owned}.resource(v.(map[string]any))
			require.NoError(t, err)
			assert.Equal(t, []any{map[string]any{"value": "u1", "display": "canonical"}}, attrs["members"], "owned %v: %s", owned, body)
		}
	}
}
