package memstore

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/compact"
)

func internUser(i int) *scim.Resource {
	name := fmt.Sprintf("user%07d@contoso.example", i)
	return &scim.Resource{Type: userType, ID: fmt.Sprintf("id-%07d", i),
		Unique: []scim.UniqueKey{{Attribute: string([]byte("userName")), Value: name}},
		Attributes: map[string]any{
			"userName": name,
			"emails":   []any{map[string]any{"value": name, "type": string([]byte("work"))}},
		}}
}

func emailType(r *scim.Resource) string {
	v, _ := compact.Get(r.Attributes["emails"].([]any)[0], "type")
	return v.(string)
}

// Repeated values are stored once; an attribute whose values are mostly
// new stops being interned after the probe.
func TestInternerSharesRepeatedStrings(t *testing.T) {
	s := New()
	var first *scim.Resource
	for i := range 4 * internProbe {
		r := s.own(internUser(i))
		if first == nil {
			first = r
			continue
		}
		assert.Equal(t, unsafe.StringData(emailType(first)), unsafe.StringData(emailType(r)), "work is shared")
		assert.Equal(t, unsafe.StringData(first.Unique[0].Attribute), unsafe.StringData(r.Unique[0].Attribute))
	}
	// userName and emails.value went off after their probe.
	assert.LessOrEqual(t, len(s.intern.values), 3*internProbe+1)
	assert.True(t, s.intern.paths[internKey{"", "userName"}].off)
	assert.False(t, s.intern.paths[internKey{"emails", "type"}].off)
}

// A resource's own strings are packed into one allocation, the unique
// key's value included, and the caller's resource is left as it was.
func TestOwnPacksStrings(t *testing.T) {
	s := New()
	for i := range 2 * internProbe { // past the probe: the interner leaves unique values alone
		s.own(internUser(i))
	}
	in := internUser(2 * internProbe)
	r := s.own(in)
	name := r.Attributes["userName"].(string)
	base := uintptr(unsafe.Pointer(unsafe.StringData(r.ID)))
	for _, str := range []string{name, r.Unique[0].Value} {
		p := uintptr(unsafe.Pointer(unsafe.StringData(str)))
		assert.True(t, p > base && p < base+uintptr(len(r.ID)+len(name)), "%q is packed with the id", str)
	}
	assert.Equal(t, "user0000512@contoso.example", name)
	assert.Equal(t, "id-0000512", r.ID)
	v, _ := compact.Get(r.Attributes["emails"].([]any)[0], "value")
	assert.Equal(t, unsafe.StringData(name), unsafe.StringData(v.(string)), "a repeated string is packed once")
	_, isMap := in.Attributes["emails"].([]any)[0].(map[string]any)
	require.True(t, isMap, "the caller's values are not changed")
}
