package strictjson

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// entraUser is a User as Entra ID provisions one, of about 600 bytes.
const entraUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
"externalId":"8f3c2a1e-5e1a-4c3b-9d2f-0a1b2c3d4e5f","userName":"barbara.jensen@contoso.example","active":true,
"displayName":"Barbara Jensen","title":"Tour Guide",
"name":{"formatted":"Barbara Jensen","givenName":"Barbara","familyName":"Jensen"},
"emails":[{"value":"barbara.jensen@contoso.example","type":"work","primary":true}],
"phoneNumbers":[{"value":"+1 555 0100","type":"work"}],
"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations"}}`

// bigGroup is a Group of 1,000 members.
var bigGroup = func() string {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"All staff","members":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":"%08x-6090-4610-87e4-49d8ca9f808d","display":"User %d"}`, i, i)
	}
	b.WriteString("]}")
	return b.String()
}()

// decodeLimits are the limits the scim package decodes request bodies
// with, by default.
var decodeLimits = Limits{Depth: 32, StringBytes: 64 << 10}

// go test -run '^$' -bench Decode -benchmem ./internal/strictjson
func BenchmarkDecode(b *testing.B) {
	for _, bm := range []struct{ name, body string }{{"EntraUser", entraUser}, {"Group1000Members", bigGroup}} {
		b.Run(bm.name, func(b *testing.B) {
			body := []byte(bm.body)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(body, decodeLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Decoding allocates the values it returns and nothing else: per object a
// map of its size, per array its elements and its interface value, per key
// its text, and per string or number its text and its interface value.
func TestDecodeAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops decoders at random")
	}
	for _, body := range []string{entraUser, bigGroup} {
		b := []byte(body)
		v, err := Decode(b, decodeLimits)
		require.NoError(t, err)
		got := testing.AllocsPerRun(20, func() {
			if _, err := Decode(b, decodeLimits); err != nil {
				t.Fatal(err)
			}
		})
		assert.LessOrEqual(t, got, float64(allocations(v)), "%.40s…", body)
	}
}

// allocations is how many allocations a decoded value needs at most.
func allocations(v any) int {
	switch v := v.(type) {
	case string:
		return 2
	case []any:
		n := 1 // the slice, as an any
		if len(v) > 0 {
			n++ // its elements
		}
		for _, e := range v {
			n += allocations(e)
		}
		return n
	case map[string]any:
		n := 1 // the map; one of up to 8 entries has its slots too, a larger one a table of them
		switch {
		case len(v) > 8:
			n += 3
		case len(v) > 0:
			n++
		}
		for _, e := range v {
			n += 1 + allocations(e)
		}
		return n
	case nil, bool:
		return 0
	}
	return 2 // json.Number
}
