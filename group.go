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
