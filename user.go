package scim

import "github.com/elimity-com/scim/schema"

// Schema URNs of the resource types this package defines.
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// UserResourceType is the User resource type of RFC 7643 §4.1 with the
// Enterprise User extension (§4.3). Append to Extensions to add your own.
func UserResourceType() ResourceType {
	return ResourceType{
		Name:        "User",
		Endpoint:    "/Users",
		Description: "User Account",
		Schema:      schema.CoreUserSchema(),
		Extensions:  []SchemaExtension{{Schema: schema.ExtensionEnterpriseUser()}},
	}
}
