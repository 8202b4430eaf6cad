package scim

import (
	"fmt"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// ResourceType describes one kind of resource a Handler serves: its name,
// endpoint, core schema and schema extensions (RFC 7643 §6).
type ResourceType struct {
	// Name is the type's name, for example "User"; it is Resource.Type.
	Name string
	// Endpoint is the path below the handler's root, for example "/Users".
	Endpoint string
	// Description is shown by /ResourceTypes.
	Description string
	// Schema is the core schema.
	Schema schema.Schema
	// Extensions are the schema extensions resources of this type may carry.
	Extensions []SchemaExtension
}

// SchemaExtension is a schema extension of a resource type.
type SchemaExtension struct {
	Schema schema.Schema
	// Required extensions must be present in every resource.
	Required bool
}

// AttrType is a SCIM attribute data type (RFC 7643 §2.3).
type AttrType string

// The SCIM attribute data types.
const (
	TypeString    AttrType = "string"
	TypeBoolean   AttrType = "boolean"
	TypeDecimal   AttrType = "decimal"
	TypeInteger   AttrType = "integer"
	TypeDateTime  AttrType = "dateTime"
	TypeReference AttrType = "reference"
	TypeBinary    AttrType = "binary"
	TypeComplex   AttrType = "complex"
)

// AttrPath is a canonical attribute path: an attribute of a resource type,
// with its sub-attribute, as named by its schema, and the characteristics
// an evaluator or a store needs to compare values of it.
type AttrPath struct {
	// URN is the schema extension the attribute belongs to; "" for core and
	// common attributes, which Resource.Attributes keeps at the top level.
	URN string
	// Name is the attribute's canonical name, for example "emails" or "id".
	Name string
	// Sub is the canonical sub-attribute name, or "".
	Sub string
	// Type is the data type of the addressed (sub-)attribute.
	Type AttrType
	// CaseExact tells whether string values compare case-sensitively.
	CaseExact bool
	// MultiValued tells whether the attribute Name is multi-valued.
	MultiValued bool
}

// String returns the path as SCIM writes it, URN-qualified for extensions.
func (p AttrPath) String() string {
	s := p.Name
	if p.Sub != "" {
		s += "." + p.Sub
	}
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	return s
}

// attrDef is one attribute definition, compiled from the schema package's
// model into a tree that is cheap to walk and look up case-insensitively.
type attrDef struct {
	name       string
	typ        AttrType
	multi      bool
	caseExact  bool
	required   bool
	mutability string // readOnly, readWrite, immutable, writeOnly
	returned   string // always, never, default, request
	uniqueness string // none, server, global
	// description, canonical and refTypes are only described by /Schemas.
	description string
	canonical   []string
	refTypes    []string
	subs        []*attrDef
	byName      map[string]*attrDef // lowercased name → sub-attribute
	jsonName    string              // name as a JSON string, quoted and escaped, for rendering
}

func (a *attrDef) sub(name string) *attrDef {
	if a == nil || a.byName == nil {
		return nil
	}
	return a.byName[strings.ToLower(name)]
}

// schemaDef is a compiled schema.
type schemaDef struct {
	urn    string
	src    schema.Schema
	attrs  []*attrDef
	byName map[string]*attrDef
}

func (s *schemaDef) attr(name string) *attrDef {
	return s.byName[strings.ToLower(name)]
}

func compileAttrs(as []schema.CoreAttribute) ([]*attrDef, map[string]*attrDef) {
	defs := make([]*attrDef, 0, len(as))
	byName := make(map[string]*attrDef, len(as))
	for _, a := range as {
		d := &attrDef{
			name:       a.Name(),
			typ:        AttrType(a.AttributeType()),
			multi:      a.MultiValued(),
			caseExact:  a.CaseExact(),
			required:   a.Required(),
			mutability: a.Mutability(),
			returned:   a.Returned(),
			uniqueness: a.Uniqueness(),

			description: a.Description(),
			canonical:   a.CanonicalValues(),
			jsonName:    string(appendString(nil, a.Name())),
		}
		for _, r := range a.ReferenceTypes() {
			d.refTypes = append(d.refTypes, string(r))
		}
		if a.HasSubAttributes() {
			d.subs, d.byName = compileAttrs(a.SubAttributes())
			// The "value" of a reference to a resource (members, groups,
			// manager) is that resource's id, which is case-exact.
			if v := d.sub("value"); v != nil && d.sub("$ref") != nil {
				v.caseExact = true
			}
		}
		defs = append(defs, d)
		byName[strings.ToLower(d.name)] = d
	}
	return defs, byName
}

func compileSchema(s schema.Schema) *schemaDef {
	attrs, byName := compileAttrs(s.Attributes)
	return &schemaDef{urn: s.ID, src: s, attrs: attrs, byName: byName}
}

// commonAttrNames are the common attributes kept in a compiled resource
// type (RFC 7643 §3.1); "schemas" the handler computes itself.
var commonAttrNames = map[string]bool{"id": true, "externalid": true, "meta": true}

func compileCommon() *schemaDef {
	var as []schema.CoreAttribute
	for _, a := range schema.CommonAttributes() {
		if commonAttrNames[strings.ToLower(a.Name())] {
			as = append(as, a)
		}
	}
	return compileSchema(schema.Schema{Attributes: as})
}

// resourceType is a ResourceType compiled for serving.
type resourceType struct {
	ResourceType
	core     *schemaDef
	common   *schemaDef
	topLevel []*attrDef // core then common attributes: those at the top of Resource.Attributes
	// endpoints maps every served type's lowercased name to its endpoint,
	// for the $ref of members, groups and managers.
	endpoints  map[string]string
	extensions []*schemaDef
	required   map[string]bool // extension URN → required
	// uniqueAttrs are the top-level attributes whose values the store must
	// keep unique (uniqueness "server" or "global", plus configured ones).
	uniqueAttrs []AttrPath
	// limits are the Handler's, for parsing filters and decoding values.
	limits Limits
}

func compileResourceType(rt ResourceType, extraUnique ...string) (*resourceType, error) {
	if rt.Name == "" || !strings.HasPrefix(rt.Endpoint, "/") || rt.Schema.ID == "" {
		return nil, fmt.Errorf("scim: resource type %q needs a name, an endpoint starting with / and a schema id", rt.Name)
	}
	c := &resourceType{
		ResourceType: rt,
		core:         compileSchema(rt.Schema),
		common:       compileCommon(),
		required:     map[string]bool{},
		limits:       DefaultLimits(),
	}
	c.topLevel = append(append([]*attrDef{}, c.core.attrs...), c.common.attrs...)
	for _, e := range rt.Extensions {
		c.extensions = append(c.extensions, compileSchema(e.Schema))
		c.required[e.Schema.ID] = e.Required
	}
	unique := map[string]bool{}
	for _, n := range extraUnique {
		unique[strings.ToLower(n)] = true
	}
	for _, s := range append([]*schemaDef{c.core}, c.extensions...) {
		for _, a := range s.attrs {
			if a.multi || a.typ == TypeComplex {
				continue
			}
			if s == c.core && unique[strings.ToLower(a.name)] {
				a.uniqueness = "server" // configured: /Schemas says so too
			}
			if a.uniqueness == "server" || a.uniqueness == "global" {
				urn := ""
				if s != c.core {
					urn = s.urn
				}
				c.uniqueAttrs = append(c.uniqueAttrs, AttrPath{URN: urn, Name: a.name, Type: a.typ, CaseExact: a.caseExact})
			}
		}
	}
	return c, nil
}

// schemaByURN finds the core schema or an extension by URN, case-insensitively.
func (rt *resourceType) schemaByURN(urn string) *schemaDef {
	if strings.EqualFold(urn, rt.core.urn) {
		return rt.core
	}
	for _, e := range rt.extensions {
		if strings.EqualFold(urn, e.urn) {
			return e
		}
	}
	return nil
}

// pathError is an attribute path that names nothing in the resource type.
type pathError struct{ path string }

func (e *pathError) Error() string { return fmt.Sprintf("unknown attribute %q", e.path) }

// splitURN separates a leading schema URN of the resource type from the
// rest of a path: "urn:…:User:name.givenName" → (core schema, "name.givenName").
// A path with no known URN prefix comes back whole with a nil schema.
func (rt *resourceType) splitURN(path string) (*schemaDef, string) {
	if len(path) < 4 || !strings.EqualFold(path[:4], "urn:") {
		return nil, path
	}
	for _, s := range append([]*schemaDef{rt.core}, rt.extensions...) {
		n := len(s.urn)
		if len(path) > n && strings.EqualFold(path[:n], s.urn) && path[n] == ':' {
			return s, path[n+1:]
		}
	}
	return nil, path
}

// resolve turns a textual attribute path ("userName", "name.givenName",
// "urn:…:enterprise:2.0:User:manager.value", "meta.created") into a
// canonical AttrPath and the definition of the addressed (sub)attribute.
// Names match case-insensitively. Unless strict, an extension attribute
// may be named without its URN when no core attribute has its name.
func (rt *resourceType) resolve(path string, strict bool) (AttrPath, *attrDef, error) {
	s, rest := rt.splitURN(path)
	if rest == "" {
		return AttrPath{}, nil, &pathError{path}
	}
	name, sub, _ := strings.Cut(rest, ".")
	var def *attrDef
	switch {
	case s != nil:
		def = s.attr(name)
	case strings.HasPrefix(strings.ToLower(path), "urn:"):
		return AttrPath{}, nil, &pathError{path}
	default:
		s = rt.core
		def = s.attr(name)
		if def == nil {
			def = rt.common.attr(name)
		}
		if def == nil && !strict {
			for _, e := range rt.extensions {
				if d := e.attr(name); d != nil {
					s, def = e, d
					break
				}
			}
		}
	}
	if def == nil {
		return AttrPath{}, nil, &pathError{path}
	}
	p := AttrPath{Name: def.name, Type: def.typ, CaseExact: def.caseExact, MultiValued: def.multi}
	if s != rt.core && s.urn != "" && rt.common.attr(def.name) != def {
		p.URN = s.urn
	}
	leaf := def
	if sub != "" {
		leaf = def.sub(sub)
		if leaf == nil {
			return AttrPath{}, nil, &pathError{path}
		}
		p.Sub, p.Type, p.CaseExact = leaf.name, leaf.typ, leaf.caseExact
	}
	return p, leaf, nil
}

// neverReturned reports whether the attribute at p, whose definition is
// leaf, is never returned (RFC 7643 §2.4 "returned": "never"), itself or
// through its parent. Such values may not be filtered or sorted on either.
func (rt *resourceType) neverReturned(p AttrPath, leaf *attrDef) bool {
	if leaf.returned == "never" {
		return true
	}
	top := rt.topDef(p)
	return top != nil && top.returned == "never"
}

// holdsNeverReturned reports whether attrs assign a top-level attribute
// that is never returned.
func (rt *resourceType) holdsNeverReturned(attrs map[string]any) bool {
	for _, s := range append([]*schemaDef{rt.core}, rt.extensions...) {
		m := attrs
		if s != rt.core {
			m, _ = attrs[s.urn].(map[string]any)
		}
		for _, a := range s.attrs {
			if _, ok := m[a.name]; ok && a.returned == "never" {
				return true
			}
		}
	}
	return false
}

// topDef returns the definition of the top-level attribute of p.
func (rt *resourceType) topDef(p AttrPath) *attrDef {
	if p.URN != "" {
		if s := rt.schemaByURN(p.URN); s != nil {
			return s.attr(p.Name)
		}
		return nil
	}
	if d := rt.core.attr(p.Name); d != nil {
		return d
	}
	return rt.common.attr(p.Name)
}
