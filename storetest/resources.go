package storetest

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/scimkit/scim"
)

// Resource types of the kit. Device stands for a type a host adds with
// scim.WithResourceTypes: a store keeps whatever types it is handed.
const (
	userType   = "User"
	groupType  = "Group"
	deviceType = "Device"
)

// extURN is the schema extension the kit's Users carry besides the
// Enterprise User extension: it has an attribute of every SCIM type, which
// the core schemas lack (they have no integer or decimal attribute).
const extURN = "urn:example:params:scim:schemas:extension:storetest:2.0:User"

// entURN is the Enterprise User extension.
const entURN = scim.EnterpriseUserSchema

// t0 is the time the kit's resources are created around. It has
// microsecond precision, as every time the kit hands a store.
var t0 = time.Date(2024, 5, 1, 10, 20, 30, 123456000, time.UTC)

// Attribute paths as the handler resolves them for the core User, Group and
// Enterprise User schemas and the kit's extension: canonical names, the
// type and case rule of the addressed (sub-)attribute, and whether the
// top-level attribute is multi-valued.
var (
	pID          = scim.AttrPath{Name: "id", Type: scim.TypeString, CaseExact: true}
	pExternalID  = scim.AttrPath{Name: "externalId", Type: scim.TypeString, CaseExact: true}
	pUserName    = scim.AttrPath{Name: "userName", Type: scim.TypeString}
	pDisplayName = scim.AttrPath{Name: "displayName", Type: scim.TypeString}
	pNickName    = scim.AttrPath{Name: "nickName", Type: scim.TypeString}
	pTitle       = scim.AttrPath{Name: "title", Type: scim.TypeString}
	pActive      = scim.AttrPath{Name: "active", Type: scim.TypeBoolean}
	pProfileURL  = scim.AttrPath{Name: "profileUrl", Type: scim.TypeReference, CaseExact: true}
	pName        = scim.AttrPath{Name: "name", Type: scim.TypeComplex}
	pGivenName   = scim.AttrPath{Name: "name", Sub: "givenName", Type: scim.TypeString}
	pFamilyName  = scim.AttrPath{Name: "name", Sub: "familyName", Type: scim.TypeString}

	pEmails       = scim.AttrPath{Name: "emails", Type: scim.TypeComplex, MultiValued: true}
	pEmailValue   = scim.AttrPath{Name: "emails", Sub: "value", Type: scim.TypeString, MultiValued: true}
	pEmailType    = scim.AttrPath{Name: "emails", Sub: "type", Type: scim.TypeString, MultiValued: true}
	pEmailPrimary = scim.AttrPath{Name: "emails", Sub: "primary", Type: scim.TypeBoolean, MultiValued: true}
	pPhones       = scim.AttrPath{Name: "phoneNumbers", Type: scim.TypeComplex, MultiValued: true}
	pPhoneValue   = scim.AttrPath{Name: "phoneNumbers", Sub: "value", Type: scim.TypeString, MultiValued: true}
	pPhoneType    = scim.AttrPath{Name: "phoneNumbers", Sub: "type", Type: scim.TypeString, MultiValued: true}
	pX509         = scim.AttrPath{Name: "x509Certificates", Type: scim.TypeComplex, MultiValued: true}
	pX509Value    = scim.AttrPath{Name: "x509Certificates", Sub: "value", Type: scim.TypeBinary, CaseExact: true, MultiValued: true}
	pPhotoValue   = scim.AttrPath{Name: "photos", Sub: "value", Type: scim.TypeReference, CaseExact: true, MultiValued: true}
	pPhotoType    = scim.AttrPath{Name: "photos", Sub: "type", Type: scim.TypeString, MultiValued: true}

	pGroups        = scim.AttrPath{Name: "groups", Type: scim.TypeComplex, MultiValued: true}
	pGroupsValue   = scim.AttrPath{Name: "groups", Sub: "value", Type: scim.TypeString, CaseExact: true, MultiValued: true}
	pGroupsDisplay = scim.AttrPath{Name: "groups", Sub: "display", Type: scim.TypeString, MultiValued: true}

	pMetaCreated      = scim.AttrPath{Name: "meta", Sub: "created", Type: scim.TypeDateTime}
	pMetaLastModified = scim.AttrPath{Name: "meta", Sub: "lastModified", Type: scim.TypeDateTime}
	pMetaResourceType = scim.AttrPath{Name: "meta", Sub: "resourceType", Type: scim.TypeString, CaseExact: true}
	pMetaVersion      = scim.AttrPath{Name: "meta", Sub: "version", Type: scim.TypeString, CaseExact: true}

	pEmployeeNumber = scim.AttrPath{URN: entURN, Name: "employeeNumber", Type: scim.TypeString}
	pDepartment     = scim.AttrPath{URN: entURN, Name: "department", Type: scim.TypeString}
	pManager        = scim.AttrPath{URN: entURN, Name: "manager", Type: scim.TypeComplex}
	pManagerValue   = scim.AttrPath{URN: entURN, Name: "manager", Sub: "value", Type: scim.TypeString}

	pLevel    = scim.AttrPath{URN: extURN, Name: "level", Type: scim.TypeInteger}
	pScore    = scim.AttrPath{URN: extURN, Name: "score", Type: scim.TypeDecimal}
	pHiredAt  = scim.AttrPath{URN: extURN, Name: "hiredAt", Type: scim.TypeDateTime}
	pVIP      = scim.AttrPath{URN: extURN, Name: "vip", Type: scim.TypeBoolean}
	pBadge    = scim.AttrPath{URN: extURN, Name: "badge", Type: scim.TypeBinary, CaseExact: true}
	pHomepage = scim.AttrPath{URN: extURN, Name: "homepage", Type: scim.TypeReference, CaseExact: true}
	pTags     = scim.AttrPath{URN: extURN, Name: "tags", Type: scim.TypeString, MultiValued: true}
	pCode     = scim.AttrPath{URN: extURN, Name: "code", Type: scim.TypeString, CaseExact: true}

	pMembers        = scim.AttrPath{Name: "members", Type: scim.TypeComplex, MultiValued: true}
	pMembersValue   = scim.AttrPath{Name: "members", Sub: "value", Type: scim.TypeString, CaseExact: true, MultiValued: true}
	pMembersType    = scim.AttrPath{Name: "members", Sub: "type", Type: scim.TypeString, MultiValued: true}
	pMembersDisplay = scim.AttrPath{Name: "members", Sub: "display", Type: scim.TypeString, MultiValued: true}
)

// foldCase folds s as the handler folds the unique keys of attributes that
// are not case-exact, and as scim.Matches compares them: each rune becomes
// the lower case of its upper case.
func foldCase(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
		}
	}
	return s
}

// userNameKey is the unique key the handler gives a User's userName.
func userNameKey(userName string) scim.UniqueKey {
	return scim.UniqueKey{Attribute: "userName", Value: foldCase(userName)}
}

// newUser returns a User as the handler hands it to Create: the
// attributes, the id, both times set to created, and the userName key.
func newUser(id, userName string, created time.Time, attrs map[string]any) *scim.Resource {
	a := map[string]any{"userName": userName}
	for k, v := range attrs {
		a[k] = v
	}
	return &scim.Resource{
		Type:       userType,
		ID:         id,
		Attributes: a,
		Meta:       scim.Meta{Created: created, LastModified: created},
		Unique:     []scim.UniqueKey{userNameKey(userName)},
	}
}

// simpleUser is a User with a few attributes, for checks that are not
// about attribute values.
func simpleUser(id, userName string) *scim.Resource {
	return newUser(id, userName, t0, map[string]any{
		"active": true,
		"name":   map[string]any{"givenName": "Given " + id, "familyName": "Family"},
		"emails": []any{map[string]any{"value": id + "@example.com", "type": "work", "primary": true}},
	})
}

// member is a Group member value as the handler stores it.
func member(id string) map[string]any {
	return map[string]any{"value": id, "type": "User"}
}

// newGroup returns a Group as the handler hands it to Create.
func newGroup(id, displayName string, memberIDs ...string) *scim.Resource {
	attrs := map[string]any{"displayName": displayName}
	if len(memberIDs) > 0 {
		ms := make([]any, len(memberIDs))
		for i, m := range memberIDs {
			ms[i] = member(m)
		}
		attrs["members"] = ms
	}
	return &scim.Resource{
		Type:       groupType,
		ID:         id,
		Attributes: attrs,
		Meta:       scim.Meta{Created: t0, LastModified: t0},
	}
}

// withAttrs returns a copy of r whose attributes are replaced by attrs
// (and whose userName key follows them), for Replace.
func withAttrs(r *scim.Resource, attrs map[string]any, lastModified time.Time) *scim.Resource {
	c := r.Clone()
	c.Attributes = attrs
	c.Meta.LastModified = lastModified
	c.Unique = nil
	if un, ok := attrs["userName"].(string); ok && r.Type == userType {
		c.Unique = []scim.UniqueKey{userNameKey(un)}
	}
	return c
}

// memberIDs returns the values of a Group's members, in order.
func memberIDs(g *scim.Resource) []string {
	if g == nil {
		return nil
	}
	list, _ := g.Attributes["members"].([]any)
	out := make([]string, 0, len(list))
	for _, m := range list {
		if mm, ok := m.(map[string]any); ok {
			if v, ok := mm["value"].(string); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// groupValues returns the "groups" values of a User by group id.
func groupValues(u *scim.Resource) map[string]map[string]any {
	out := map[string]map[string]any{}
	if u == nil {
		return out
	}
	list, _ := u.Attributes["groups"].([]any)
	for _, g := range list {
		if m, ok := g.(map[string]any); ok {
			if v, ok := m["value"].(string); ok {
				out[v] = m
			}
		}
	}
	return out
}
