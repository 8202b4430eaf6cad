package scim_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// rfcFullUser is the full User representation of RFC 7643 §8.2 with the
// Enterprise User extension of §8.3, as a store holds it (no id, schemas
// or meta among the attributes).
const rfcFullUser = `{
  "externalId": "701984",
  "userName": "bjensen@example.com",
  "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
           "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"},
  "displayName": "Babs Jensen",
  "nickName": "Babs",
  "profileUrl": "https://login.example.com/bjensen",
  "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
             {"value": "babs@jensen.org", "type": "home"}],
  "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA",
                 "postalCode": "91608", "country": "USA",
                 "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true},
                {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood", "region": "CA",
                 "postalCode": "91608", "country": "USA", "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 USA"}],
  "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
  "ims": [{"value": "someaimhandle", "type": "aim"}],
  "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"},
             {"value": "https://photos.example.com/profilephoto/72930000000Ccne/T", "type": "thumbnail"}],
  "userType": "Employee",
  "title": "Tour Guide",
  "preferredLanguage": "en-US",
  "locale": "en-US",
  "timezone": "America/Los_Angeles",
  "active": true,
  "password": "t1meMa$heen",
  "groups": [{"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "$ref": "https://example.com/v2/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Tour Guides"},
             {"value": "fc348aa8-3835-40eb-a20b-c726e15c55b5", "$ref": "https://example.com/v2/Groups/fc348aa8-3835-40eb-a20b-c726e15c55b5", "display": "Employees"},
             {"value": "71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7", "$ref": "https://example.com/v2/Groups/71ddacd2-a8e7-49b8-a5db-ae50d0a5bfd7", "display": "US Employees"}],
  "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
    "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
    "division": "Theme Park", "department": "Tour Operations",
    "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
  }
}`

// rfcGroup is the Group of RFC 7643 §8.4.
const rfcGroup = `{
  "displayName": "Tour Guides",
  "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "$ref": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen"},
              {"value": "902c246b-6245-4190-8e05-00816be7344a", "$ref": "https://example.com/v2/Users/902c246b-6245-4190-8e05-00816be7344a", "display": "Mandy Pepperidge"}]
}`

func attrsOf(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	return m
}

func TestUserRoundTrip(t *testing.T) {
	meta := scim.Meta{Created: time.Date(2010, 1, 23, 4, 56, 22, 0, time.UTC), LastModified: time.Date(2011, 5, 13, 4, 42, 34, 0, time.UTC), Version: "3694e05e9dff591"}
	tests := []struct {
		name  string
		attrs string
	}{
		{"RFC 7643 §8.2 and §8.3", rfcFullUser},
		{"RFC 7643 §8.1 minimal", `{"userName": "bjensen@example.com"}`},
		{"values no field holds exactly", `{
			"userName": "odd", "nickName": "", "title": null, "active": "True", "locale": 7,
			"name": {}, "emails": [], "phoneNumbers": ["555"], "ims": [{"value": "x", "primary": false, "custom": 1.5}],
			"addresses": [{"country": "CH", "primary": "yes"}], "roles": null,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {}, "department": null},
			"urn:example:params:scim:schemas:extension:acme:2.0:User": {"badge": "B-1", "level": 3},
			"urn:example:bad": "not an object", "somethingElse": {"a": [1, 2]}}`},
		{"no active, no extensions", `{"userName": "plain", "emails": [{"value": "p@example.com"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &scim.Resource{Type: "User", ID: "2819c223-7f76-453a-919d-413861904646", Attributes: attrsOf(t, tt.attrs), Meta: meta}
			u := scim.UserFromResource(res)
			back := u.Resource()
			assert.Equal(t, res.Attributes, back.Attributes, "attributes survive the round trip")
			assert.Equal(t, res.ID, back.ID)
			assert.Equal(t, "User", back.Type)
			assert.Equal(t, meta, back.Meta)
			// The view is a copy.
			if u.Name != nil {
				u.Name.GivenName = "changed"
			}
			assert.Equal(t, attrsOf(t, tt.attrs), res.Attributes, "changing the view leaves the resource alone")
		})
	}
}

func TestUserFields(t *testing.T) {
	u := scim.UserFromResource(&scim.Resource{Type: "User", ID: "u1", Attributes: attrsOf(t, rfcFullUser)})
	assert.Equal(t, "bjensen@example.com", u.UserName)
	assert.Equal(t, "Barbara", u.Name.GivenName)
	assert.Equal(t, "bjensen@example.com", u.PrimaryEmail())
	assert.Len(t, u.Emails, 2)
	assert.Equal(t, "home", u.Emails[1].Type)
	assert.False(t, u.Emails[1].Primary)
	assert.True(t, u.IsActive())
	assert.Equal(t, "Hollywood", u.Addresses[0].Locality)
	assert.Equal(t, "Tour Operations", u.Enterprise.Department)
	assert.Equal(t, "John Smith", u.Enterprise.Manager.DisplayName)
	assert.Equal(t, "Tour Guides", u.Groups[0].Display)
	assert.Nil(t, u.Extra)

	odd := scim.UserFromResource(&scim.Resource{Type: "User", Attributes: attrsOf(t,
		`{"userName": "odd", "active": false, "urn:example:params:scim:schemas:extension:acme:2.0:User": {"badge": "B-1"}}`)})
	assert.False(t, odd.IsActive())
	assert.Equal(t, map[string]any{"badge": "B-1"}, odd.Extensions["urn:example:params:scim:schemas:extension:acme:2.0:User"])
	assert.Nil(t, odd.Enterprise)

	// A view built by hand becomes a resource a store can hold.
	active := true
	built := (&scim.User{UserName: "new", Active: &active, Emails: []scim.MultiValue{{Value: "n@example.com", Primary: true}},
		Enterprise: &scim.EnterpriseUser{Department: "R&D"}}).Resource()
	assert.Equal(t, map[string]any{
		"userName": "new", "active": true,
		"emails":                  []any{map[string]any{"value": "n@example.com", "primary": true}},
		scim.EnterpriseUserSchema: map[string]any{"department": "R&D"},
	}, built.Attributes)
}

func TestGroupRoundTrip(t *testing.T) {
	for name, doc := range map[string]string{
		"RFC 7643 §8.4": rfcGroup,
		"odd values":    `{"displayName": "", "members": [], "externalId": 5, "urn:example:ext": {"x": true}}`,
		"nested group":  `{"displayName": "Outer", "members": [{"value": "g1", "type": "Group"}, {"value": "u1", "type": "User", "display": null}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			res := &scim.Resource{Type: "Group", ID: "e9e30dba", Attributes: attrsOf(t, doc)}
			g := scim.GroupFromResource(res)
			assert.Equal(t, res.Attributes, g.Resource().Attributes)
		})
	}
	g := scim.GroupFromResource(&scim.Resource{Type: "Group", ID: "e9e30dba", Attributes: attrsOf(t, rfcGroup)})
	assert.Equal(t, "Tour Guides", g.DisplayName)
	require.Len(t, g.Members, 2)
	assert.Equal(t, "Mandy Pepperidge", g.Members[1].Display)
}
