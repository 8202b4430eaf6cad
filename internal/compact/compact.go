// Package compact holds complex attribute values in less memory than
// map[string]any: a store keeps them so, and the scim package reads them
// wherever it reads a map (filters, sorting, rendering, copying out).
//
// A small Go map costs a group of eight slots whatever it holds, about
// 300 bytes; a User's name, two emails and an enterprise extension are four
// of them. An Object holds just its fields, sorted by name.
package compact

import (
	"slices"
	"strings"
)

// Object is a complex value: its fields, sorted by name, each name once.
// It is read-only: nothing changes it once Of made it.
type Object struct {
	fields []Field
}

// Field is one name and value of an Object.
type Field struct {
	Name  string
	Value any
}

// Of returns v with every map[string]any in it, at any depth, made an
// *Object, and every []any copied: a deep copy of v, in compact form.
// Other values are kept as they are.
func Of(v any) any {
	switch v := v.(type) {
	case map[string]any:
		fields := make([]Field, 0, len(v))
		for k, e := range v {
			fields = append(fields, Field{k, Of(e)})
		}
		slices.SortFunc(fields, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
		return &Object{fields: fields}
	case []any:
		c := make([]any, len(v))
		for i, e := range v {
			c[i] = Of(e)
		}
		return c
	default:
		return v
	}
}

// Get returns the value of the field name.
func (o *Object) Get(name string) (any, bool) {
	for _, f := range o.fields { // objects are small: a scan beats a search
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Len returns the number of fields.
func (o *Object) Len() int { return len(o.fields) }

// Fields returns the fields, sorted by name. The caller must not change
// them.
func (o *Object) Fields() []Field { return o.fields }

// Map returns a map[string]any holding o's fields, each value copied by
// copyValue.
func (o *Object) Map(copyValue func(any) any) map[string]any {
	m := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		m[f.Name] = copyValue(f.Value)
	}
	return m
}

// Get returns the field name of a complex value v, a map[string]any or an
// *Object; ok is false when v is neither or has no such field.
func Get(v any, name string) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		e, ok := v[name]
		return e, ok
	case *Object:
		if v != nil {
			return v.Get(name)
		}
	}
	return nil, false
}

// IsObject reports whether v is a complex value: a map[string]any or an
// *Object.
func IsObject(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return true
	case *Object:
		return v != nil
	}
	return false
}

// Range calls fn with each field of a complex value v, a map[string]any
// (in no order) or an *Object (by name), until fn returns false.
func Range(v any, fn func(name string, value any) bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if !fn(k, e) {
				return
			}
		}
	case *Object:
		if v == nil {
			return
		}
		for _, f := range v.fields {
			if !fn(f.Name, f.Value) {
				return
			}
		}
	}
}
