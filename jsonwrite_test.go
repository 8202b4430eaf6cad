package scim

import (
	"encoding/json"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendJSONIsEncodingJSON: the response encoder writes byte for byte
// what encoding/json writes.
func TestAppendJSONIsEncodingJSON(t *testing.T) {
	values := []any{
		nil, "", "plain", "quote\" back\\ slash/ <tag> & amp", "\x00\x01\x1f\t\n\r", "Zoë 😀 例え", "\u2028\u2029",
		"bad\xffutf8\xc3", true, false, 0, -1, int64(math.MaxInt64), int64(math.MinInt64),
		0.0, 1.5, -2.75, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64, -0.000001,
		json.Number("42"), json.Number("-1.5e10"), json.Number(""),
		[]any{}, []any{1.0, "a", nil, []any{true}}, []string{"a", "b"}, []string(nil),
		map[string]any{}, map[string]any{"b": 1, "a": map[string]any{"z": []any{}, "y": nil}, "<k>": "&"},
		[]map[string]any{{"id": "1"}, {}}, time.Date(2024, 5, 1, 10, 20, 30, 123456000, time.FixedZone("", 3600)),
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.Intn(12))
		for j := range b {
			b[j] = byte(rng.Intn(256))
		}
		values = append(values, string(b), math.Float64frombits(rng.Uint64()))
	}
	for _, v := range values {
		want, wantErr := json.Marshal(v)
		got, err := appendJSON(nil, v)
		if wantErr != nil {
			assert.Error(t, err, "%#v", v)
			continue
		}
		require.NoError(t, err, "%#v", v)
		assert.Equal(t, string(want), string(got), "%#v", v)
	}
}

func BenchmarkEncodeUser(b *testing.B) {
	doc := map[string]any{
		"id": "2819c223-7f76-453a-919d-413861904646", "schemas": []string{UserSchema, EnterpriseUserSchema},
		"userName": "bjensen@example.com", "active": true, "displayName": "Babs Jensen",
		"name":               map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails":             []any{map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true}, map[string]any{"value": "babs@jensen.org", "type": "home"}},
		EnterpriseUserSchema: map[string]any{"department": "Tour Operations"},
		"meta": map[string]any{"resourceType": "User", "created": "2024-05-01T10:20:30Z", "lastModified": "2024-05-01T10:20:30Z",
			"location": "https://example.com/scim/v2/Users/2819c223-7f76-453a-919d-413861904646", "version": `W/"42"`},
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _ = json.Marshal(doc)
		}
	})
	b.Run("appendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for i := 0; i < b.N; i++ {
			buf, _ = appendJSON(buf[:0], doc)
		}
	})
}
