package postgres

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Stored documents decode the same whether the fast decoder takes them or
// they hold what only encoding/json reads (written by a host's own SQL).
func TestDecodeDocFastAndFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want map[string]any
	}{
		{"as the store writes them", `{"userName":"bjensen","active":true,"n":9007199254740993,"f":1.5,"emails":[{"value":"b@example.com"}]}`,
			map[string]any{"userName": "bjensen", "active": true, "n": int64(9007199254740993), "f": 1.5,
				"emails": []any{map[string]any{"value": "b@example.com"}}}},
		{"a control character", `{"title":"a\u0007b"}`, map[string]any{"title": "a\u0007b"}},
		{"keys differing in case", `{"title":"a","Title":"b"}`, map[string]any{"title": "a", "Title": "b"}},
		{"null", `null`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeDoc([]byte(tc.raw))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	_, err := decodeDoc([]byte(`{"a":`))
	assert.Error(t, err, "malformed JSON is still an error")
}
