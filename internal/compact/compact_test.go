package compact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOf(t *testing.T) {
	in := map[string]any{
		"value": "a@example.com", "type": "work", "primary": true,
		"nested": map[string]any{"b": int64(2), "a": []any{"x", map[string]any{"k": "v"}}},
	}
	got, ok := Of(in).(*Object)
	require.True(t, ok)
	assert.Equal(t, 4, got.Len())

	var names []string
	for _, f := range got.Fields() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"nested", "primary", "type", "value"}, names, "fields are sorted by name")

	v, ok := got.Get("type")
	assert.True(t, ok)
	assert.Equal(t, "work", v)
	_, ok = got.Get("display")
	assert.False(t, ok)

	nested, _ := got.Get("nested")
	assert.IsType(t, &Object{}, nested, "maps at any depth are compacted")
	list, _ := Get(nested, "a")
	assert.IsType(t, &Object{}, list.([]any)[1])

	// Of copies: changing the input afterwards changes nothing.
	in["type"] = "home"
	in["nested"].(map[string]any)["a"].([]any)[0] = "changed"
	v, _ = got.Get("type")
	assert.Equal(t, "work", v)
	assert.Equal(t, "x", list.([]any)[0])

	// Map turns it back.
	back := got.Map(func(v any) any {
		if o, ok := v.(*Object); ok {
			return o.Map(func(v any) any { return v })
		}
		return v
	})
	assert.Equal(t, "a@example.com", back["value"])
	assert.IsType(t, map[string]any{}, back["nested"])
}

func TestReadersTakeBothForms(t *testing.T) {
	m := map[string]any{"value": "1", "display": "One"}
	for _, tc := range []struct {
		name string
		v    any
	}{{"map", m}, {"object", Of(m)}} {
		t.Run(tc.name, func(t *testing.T) {
			assert.True(t, IsObject(tc.v))
			v, ok := Get(tc.v, "display")
			assert.True(t, ok)
			assert.Equal(t, "One", v)
			seen := map[string]any{}
			Range(tc.v, func(k string, v any) bool { seen[k] = v; return true })
			assert.Equal(t, m, seen)
			n := 0
			Range(tc.v, func(string, any) bool { n++; return false })
			assert.Equal(t, 1, n, "Range stops when fn returns false")
		})
	}
	for _, v := range []any{nil, "s", []any{}, (*Object)(nil)} {
		assert.False(t, IsObject(v))
		_, ok := Get(v, "value")
		assert.False(t, ok)
		Range(v, func(string, any) bool { t.Fatal("no fields"); return false })
	}
}
