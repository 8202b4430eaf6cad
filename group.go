package scim

import "github.com/elimity-com/scim/schema"

// GroupResourceType is the Group resource type of RFC 7643 §4.2.
func GroupResourceType() ResourceType {
	return ResourceType{
		Name:        "Group",
		Endpoint:    "/Groups",
		Description: "Group",
		Schema:      schema.CoreGroupSchema(),
	}
}

// Group is a typed view of a Group resource (RFC 7643 §4.2), for host
// code. GroupFromResource and Resource convert without losing anything:
// what no field holds exactly stays in Extra.
type Group struct {
	ID          string
	ExternalID  string
	DisplayName string
	// Members are the Group's members: Users and Groups of the tenant.
	Members []Reference
	// Extensions holds the attributes of schema extensions, by URN.
	Extensions map[string]map[string]any
	// Extra holds the attributes no field holds exactly, by canonical name.
	Extra map[string]any
	Meta  Meta
}

// GroupFromResource returns the typed view of a Group resource. It copies:
// changing the view leaves r alone.
func GroupFromResource(r *Resource) *Group {
	a := readAttrs(r.Attributes)
	g := &Group{
		ID:          r.ID,
		Meta:        r.Meta,
		ExternalID:  a.str("externalId"),
		DisplayName: a.str("displayName"),
		Members:     objectsFrom(a, "members", readReference),
	}
	g.Extensions = extensionsFrom(a, "")
	g.Extra = a.extra()
	return g
}

// Resource returns the group as a *Resource of type "Group".
func (g *Group) Resource() *Resource {
	w := writeAttrs(g.Extra)
	w.str("externalId", g.ExternalID)
	w.str("displayName", g.DisplayName)
	writeObjectList(w, "members", g.Members, writeReference)
	writeExtensions(w, g.Extensions)
	return &Resource{Type: "Group", ID: g.ID, Attributes: map[string]any(w), Meta: g.Meta}
}
