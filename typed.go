package scim

// This file holds what the typed views of user.go and group.go share: the
// value types of multi-valued attributes, and the reading and writing of
// attribute maps so that a view converts to and from a *Resource without
// losing anything. A value a field cannot hold exactly — a null, an empty
// string, a false "primary", a value of another JSON kind, a sub-attribute
// no field names — stays in the view's Extra under its name.

// MultiValue is one value of a multi-valued attribute such as emails,
// phoneNumbers, ims, photos, entitlements, roles or x509Certificates.
type MultiValue struct {
	Value   string
	Display string
	Type    string
	Primary bool
	// Extra holds the sub-attributes no field holds exactly.
	Extra map[string]any
}

// Address is one value of a User's addresses.
type Address struct {
	Formatted     string
	StreetAddress string
	Locality      string
	Region        string
	PostalCode    string
	Country       string
	Type          string
	Primary       bool
	// Extra holds the sub-attributes no field holds exactly.
	Extra map[string]any
}

// Reference is a value that points at another resource: a Group's member
// or a User's group.
type Reference struct {
	// Value is the referenced resource's id.
	Value string
	// Ref is the resource's URI ("$ref").
	Ref     string
	Display string
	// Type is "User" or "Group" for members, "direct" or "indirect" for
	// a User's groups.
	Type string
	// Extra holds the sub-attributes no field holds exactly.
	Extra map[string]any
}

// attrReader takes typed values out of a copy of an attribute map; what it
// does not take is the rest.
type attrReader struct{ rest map[string]any }

func readAttrs(m map[string]any) *attrReader { return &attrReader{rest: cloneMap(m)} }

// str takes a non-empty string.
func (r *attrReader) str(key string) string {
	s, ok := r.rest[key].(string)
	if !ok || s == "" {
		return ""
	}
	delete(r.rest, key)
	return s
}

// isTrue takes a true boolean.
func (r *attrReader) isTrue(key string) bool {
	b, ok := r.rest[key].(bool)
	if !ok || !b {
		return false
	}
	delete(r.rest, key)
	return true
}

// boolean takes a boolean, true or false.
func (r *attrReader) boolean(key string) *bool {
	b, ok := r.rest[key].(bool)
	if !ok {
		return nil
	}
	delete(r.rest, key)
	return &b
}

// object takes a complex value.
func (r *attrReader) object(key string) (map[string]any, bool) {
	m, ok := r.rest[key].(map[string]any)
	if ok {
		delete(r.rest, key)
	}
	return m, ok
}

// objects takes a non-empty list of complex values.
func (r *attrReader) objects(key string) ([]map[string]any, bool) {
	list, ok := r.rest[key].([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	out := make([]map[string]any, len(list))
	for i, e := range list {
		if out[i], ok = e.(map[string]any); !ok {
			return nil, false
		}
	}
	delete(r.rest, key)
	return out, true
}

// extra is what was not taken, nil when nothing was left.
func (r *attrReader) extra() map[string]any {
	if len(r.rest) == 0 {
		return nil
	}
	return r.rest
}

// attrWriter builds an attribute map: it starts from a view's Extra and
// sets the fields that hold a value over it.
type attrWriter map[string]any

func writeAttrs(extra map[string]any) attrWriter {
	w := attrWriter(cloneMap(extra))
	if w == nil {
		w = attrWriter{}
	}
	return w
}

func (w attrWriter) str(key, v string) {
	if v != "" {
		w[key] = v
	}
}

func (w attrWriter) isTrue(key string, v bool) {
	if v {
		w[key] = true
	}
}

func (w attrWriter) boolean(key string, v *bool) {
	if v != nil {
		w[key] = *v
	}
}

func (w attrWriter) object(key string, m attrWriter) {
	if len(m) > 0 {
		w[key] = map[string]any(m)
	}
}

func (w attrWriter) objects(key string, list []attrWriter) {
	if len(list) == 0 {
		return
	}
	out := make([]any, len(list))
	for i, m := range list {
		out[i] = map[string]any(m)
	}
	w[key] = out
}

// objectsFrom reads the list of objects under key, each by read.
func objectsFrom[T any](r *attrReader, key string, read func(*attrReader) T) []T {
	list, ok := r.objects(key)
	if !ok {
		return nil
	}
	out := make([]T, len(list))
	for i, m := range list {
		out[i] = read(readAttrs(m))
	}
	return out
}

// writeObjectList writes values under key as a list of objects, each made
// by write.
func writeObjectList[T any](w attrWriter, key string, values []T, write func(T) attrWriter) {
	list := make([]attrWriter, len(values))
	for i, v := range values {
		list[i] = write(v)
	}
	w.objects(key, list)
}

func readMultiValue(e *attrReader) MultiValue {
	v := MultiValue{Value: e.str("value"), Display: e.str("display"), Type: e.str("type"), Primary: e.isTrue("primary")}
	v.Extra = e.extra() // what the fields above did not take
	return v
}

func writeMultiValue(v MultiValue) attrWriter {
	m := writeAttrs(v.Extra)
	m.str("value", v.Value)
	m.str("display", v.Display)
	m.str("type", v.Type)
	m.isTrue("primary", v.Primary)
	return m
}

func readReference(e *attrReader) Reference {
	v := Reference{Value: e.str("value"), Ref: e.str("$ref"), Display: e.str("display"), Type: e.str("type")}
	v.Extra = e.extra()
	return v
}

func writeReference(v Reference) attrWriter {
	m := writeAttrs(v.Extra)
	m.str("value", v.Value)
	m.str("$ref", v.Ref)
	m.str("display", v.Display)
	m.str("type", v.Type)
	return m
}

// extensionsFrom takes every extension (a schema URN whose value is
// complex) but skip.
func extensionsFrom(r *attrReader, skip string) map[string]map[string]any {
	var out map[string]map[string]any
	for k, v := range r.rest {
		m, ok := v.(map[string]any)
		if !ok || k == skip || !isURN(k) {
			continue
		}
		if out == nil {
			out = map[string]map[string]any{}
		}
		out[k] = m
		delete(r.rest, k)
	}
	return out
}

func writeExtensions(w attrWriter, exts map[string]map[string]any) {
	for urn, m := range exts {
		if m != nil {
			w[urn] = cloneMap(m)
		}
	}
}

// isURN reports whether an attribute key is a schema URN, as extension
// attributes are keyed.
func isURN(k string) bool {
	return len(k) > 4 && (k[:4] == "urn:" || k[:4] == "URN:")
}
