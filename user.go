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

// User is a typed view of a User resource, for host code: the core
// attributes of RFC 7643 §4.1 and the Enterprise User extension (§4.3) as
// fields, custom extensions by URN. UserFromResource and Resource convert
// without losing anything: what no field holds exactly (null, "", a
// false primary, a value of an unexpected kind, an attribute no field
// names) stays in Extra, and returns from there.
type User struct {
	ID                string
	ExternalID        string
	UserName          string
	Name              *Name
	DisplayName       string
	NickName          string
	ProfileURL        string
	Title             string
	UserType          string
	PreferredLanguage string
	Locale            string
	Timezone          string
	// Active is nil when the resource has no boolean "active".
	Active *bool
	// Password is write-only: what the handler stored (a hash, unless the
	// host configured otherwise); never sent to clients.
	Password         string
	Emails           []MultiValue
	PhoneNumbers     []MultiValue
	IMs              []MultiValue
	Photos           []MultiValue
	Addresses        []Address
	Entitlements     []MultiValue
	Roles            []MultiValue
	X509Certificates []MultiValue
	// Groups is computed by the store from Group memberships; it is never
	// written back.
	Groups []Reference
	// Enterprise is the Enterprise User extension, nil when absent.
	Enterprise *EnterpriseUser
	// Extensions holds the attributes of other schema extensions, by URN.
	Extensions map[string]map[string]any
	// Extra holds the attributes no field holds exactly, by canonical name.
	Extra map[string]any
	Meta  Meta
}

// Name is a User's name.
type Name struct {
	Formatted       string
	FamilyName      string
	GivenName       string
	MiddleName      string
	HonorificPrefix string
	HonorificSuffix string
	// Extra holds the sub-attributes no field holds exactly.
	Extra map[string]any
}

// EnterpriseUser is the Enterprise User extension (RFC 7643 §4.3).
type EnterpriseUser struct {
	EmployeeNumber string
	CostCenter     string
	Organization   string
	Division       string
	Department     string
	Manager        *Manager
	// Extra holds the attributes no field holds exactly.
	Extra map[string]any
}

// Manager is the Enterprise User extension's manager.
type Manager struct {
	// Value is the manager's User id.
	Value       string
	Ref         string
	DisplayName string
	// Extra holds the sub-attributes no field holds exactly.
	Extra map[string]any
}

// IsActive reports whether the user is active: RFC 7643 leaves the meaning
// of a missing "active" to the service provider; this view, like most
// identity providers, takes it as active.
func (u *User) IsActive() bool { return u.Active == nil || *u.Active }

// PrimaryEmail returns the value of the primary email, else of the first.
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary {
			return e.Value
		}
	}
	if len(u.Emails) > 0 {
		return u.Emails[0].Value
	}
	return ""
}

// UserFromResource returns the typed view of a User resource. It copies:
// changing the view leaves r alone.
func UserFromResource(r *Resource) *User {
	a := readAttrs(r.Attributes)
	u := &User{
		ID:                r.ID,
		Meta:              r.Meta,
		ExternalID:        a.str("externalId"),
		UserName:          a.str("userName"),
		DisplayName:       a.str("displayName"),
		NickName:          a.str("nickName"),
		ProfileURL:        a.str("profileUrl"),
		Title:             a.str("title"),
		UserType:          a.str("userType"),
		PreferredLanguage: a.str("preferredLanguage"),
		Locale:            a.str("locale"),
		Timezone:          a.str("timezone"),
		Active:            a.boolean("active"),
		Password:          a.str("password"),
		Emails:            objectsFrom(a, "emails", readMultiValue),
		PhoneNumbers:      objectsFrom(a, "phoneNumbers", readMultiValue),
		IMs:               objectsFrom(a, "ims", readMultiValue),
		Photos:            objectsFrom(a, "photos", readMultiValue),
		Addresses:         objectsFrom(a, "addresses", readAddress),
		Entitlements:      objectsFrom(a, "entitlements", readMultiValue),
		Roles:             objectsFrom(a, "roles", readMultiValue),
		X509Certificates:  objectsFrom(a, "x509Certificates", readMultiValue),
		Groups:            objectsFrom(a, "groups", readReference),
	}
	if m, ok := a.object("name"); ok {
		n := readAttrs(m)
		u.Name = &Name{
			Formatted: n.str("formatted"), FamilyName: n.str("familyName"), GivenName: n.str("givenName"),
			MiddleName: n.str("middleName"), HonorificPrefix: n.str("honorificPrefix"), HonorificSuffix: n.str("honorificSuffix"),
		}
		u.Name.Extra = n.extra()
	}
	if m, ok := a.object(EnterpriseUserSchema); ok {
		e := readAttrs(m)
		u.Enterprise = &EnterpriseUser{
			EmployeeNumber: e.str("employeeNumber"), CostCenter: e.str("costCenter"), Organization: e.str("organization"),
			Division: e.str("division"), Department: e.str("department"),
		}
		if mm, ok := e.object("manager"); ok {
			mg := readAttrs(mm)
			u.Enterprise.Manager = &Manager{Value: mg.str("value"), Ref: mg.str("$ref"), DisplayName: mg.str("displayName")}
			u.Enterprise.Manager.Extra = mg.extra()
		}
		u.Enterprise.Extra = e.extra()
	}
	u.Extensions = extensionsFrom(a, EnterpriseUserSchema)
	u.Extra = a.extra()
	return u
}

// Resource returns the user as a *Resource of type "User", for a Store or
// a hook to write. Its Unique keys are left to the handler.
func (u *User) Resource() *Resource {
	w := writeAttrs(u.Extra)
	w.str("externalId", u.ExternalID)
	w.str("userName", u.UserName)
	if u.Name != nil {
		n := writeAttrs(u.Name.Extra)
		n.str("formatted", u.Name.Formatted)
		n.str("familyName", u.Name.FamilyName)
		n.str("givenName", u.Name.GivenName)
		n.str("middleName", u.Name.MiddleName)
		n.str("honorificPrefix", u.Name.HonorificPrefix)
		n.str("honorificSuffix", u.Name.HonorificSuffix)
		w["name"] = map[string]any(n) // kept even when empty: {} is a value
	}
	w.str("displayName", u.DisplayName)
	w.str("nickName", u.NickName)
	w.str("profileUrl", u.ProfileURL)
	w.str("title", u.Title)
	w.str("userType", u.UserType)
	w.str("preferredLanguage", u.PreferredLanguage)
	w.str("locale", u.Locale)
	w.str("timezone", u.Timezone)
	w.boolean("active", u.Active)
	w.str("password", u.Password)
	writeObjectList(w, "emails", u.Emails, writeMultiValue)
	writeObjectList(w, "phoneNumbers", u.PhoneNumbers, writeMultiValue)
	writeObjectList(w, "ims", u.IMs, writeMultiValue)
	writeObjectList(w, "photos", u.Photos, writeMultiValue)
	writeObjectList(w, "addresses", u.Addresses, writeAddress)
	writeObjectList(w, "entitlements", u.Entitlements, writeMultiValue)
	writeObjectList(w, "roles", u.Roles, writeMultiValue)
	writeObjectList(w, "x509Certificates", u.X509Certificates, writeMultiValue)
	writeObjectList(w, "groups", u.Groups, writeReference)
	if e := u.Enterprise; e != nil {
		m := writeAttrs(e.Extra)
		m.str("employeeNumber", e.EmployeeNumber)
		m.str("costCenter", e.CostCenter)
		m.str("organization", e.Organization)
		m.str("division", e.Division)
		m.str("department", e.Department)
		if mg := e.Manager; mg != nil {
			mm := writeAttrs(mg.Extra)
			mm.str("value", mg.Value)
			mm.str("$ref", mg.Ref)
			mm.str("displayName", mg.DisplayName)
			m["manager"] = map[string]any(mm)
		}
		w[EnterpriseUserSchema] = map[string]any(m)
	}
	writeExtensions(w, u.Extensions)
	return &Resource{Type: "User", ID: u.ID, Attributes: map[string]any(w), Meta: u.Meta}
}

func readAddress(e *attrReader) Address {
	a := Address{
		Formatted: e.str("formatted"), StreetAddress: e.str("streetAddress"), Locality: e.str("locality"),
		Region: e.str("region"), PostalCode: e.str("postalCode"), Country: e.str("country"),
		Type: e.str("type"), Primary: e.isTrue("primary"),
	}
	a.Extra = e.extra()
	return a
}

func writeAddress(a Address) attrWriter {
	m := writeAttrs(a.Extra)
	m.str("formatted", a.Formatted)
	m.str("streetAddress", a.StreetAddress)
	m.str("locality", a.Locality)
	m.str("region", a.Region)
	m.str("postalCode", a.PostalCode)
	m.str("country", a.Country)
	m.str("type", a.Type)
	m.isTrue("primary", a.Primary)
	return m
}
