package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// The fuzzers of the protocol core. CI runs each for 10 s
// (go test -run '^$' -fuzz '^FuzzFilter$' -fuzztime 10s .); scripts/fuzz
// runs them for longer. Seeds are modelled on RFC 7644's examples and on
// the requests Entra ID's and Okta's test suites send.

// requireClientError fails unless err is a SCIM error a client caused: a
// 4xx with an Error schema detail.
func requireClientError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is not a SCIM error: %T %v", err, err)
	}
	if e.Status < 400 || e.Status > 499 || e.Detail == "" {
		t.Fatalf("not a client error: %v", e)
	}
}

var filterSeeds = []string{
	`userName eq "bjensen"`,
	`name.familyName co "O'Malley"`,
	`userName sw "J"`,
	`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`,
	`title pr`,
	`meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`meta.lastModified ge "2011-05-13T04:42:34Z"`,
	`title pr and userType eq "Employee"`,
	`title pr or userType eq "Intern"`,
	`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`,
	`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`,
	`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
	`userType eq "Employee" and (emails.type eq "work")`,
	`userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`,
	`emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]`,
	`externalId eq jyoung`,
	`active eq "True"`,
	`emails[type eq "work"].value eq "a@example.com"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`,
	`urn:ietf:params:scim:schemas:extension:acme:2.0:User:level gt 3`,
	`id eq "2819c223-7f76-453a-919d-413861904646"`,
	`meta.version eq "W/\"3\""`,
	`displayName eq "Group1DisplayName"`,
	`members[value eq "x"]`,
	`(((userName pr)))`,
	`not (userName eq null)`,
	`userName eq "\u00e9\ud83d\ude00"`,
	`emails co "a" and emails co "b" or name.givenName ew "z"`,
}

// FuzzFilter parses any text as a filter, strictly and leniently: it is a
// filter that evaluates without panicking, or a 400 invalidFilter.
func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	rt := testUserType(f)
	users := testUsers()
	f.Fuzz(func(t *testing.T, s string, strict bool) {
		flt, err := rt.parseFilter(s, strict)
		if err != nil {
			requireClientError(t, err)
			if e := toError(err); e.SCIMType != SCIMTypeInvalidFilter {
				t.Fatalf("scimType %q, want invalidFilter", e.SCIMType)
			}
			return
		}
		if flt == nil {
			t.Fatal("no filter and no error")
		}
		for _, u := range users {
			Matches(flt, u)
		}
	})
}

// patchFuzzUser is the resource every PATCH the fuzzer makes starts from.
func patchFuzzUser() map[string]any {
	return map[string]any{
		"userName":    "bjensen",
		"displayName": "Babs",
		"name":        map[string]any{"givenName": "Barbara", "familyName": "Jensen"},
		"emails": []any{
			map[string]any{"value": "bjensen@example.com", "type": "work", "primary": true},
			map[string]any{"value": "babs@jensen.org", "type": "home"},
		},
		"phoneNumbers": []any{map[string]any{"value": "555-555-8377", "type": "work"}},
		"addresses":    []any{map[string]any{"formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "type": "work"}},
		"active":       true,
		EnterpriseUserSchema: map[string]any{
			"employeeNumber": "701984", "department": "Tour Operations",
			"manager": map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
		},
	}
}

var patchSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","value":{"emails":[{"value":"babs@jensen.org","type":"home"}],"nickname":"Babs"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223","value":"2819c223"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"2819c223-7f76-...413861904646\"]"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"addresses[type eq \"work\"]","value":{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}],"nickName":"Babs"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":[{"value":"m1"}]}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"name.givenName":"Ann","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"Sales","emails[type eq \"work\"].value":"ann@example.com"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"replace","path":"name.familyName","value":"updatedFamilyName"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members","value":[{"value":"u1"}]}]}`,
	`{"Operations":[{"op":"add","path":"members","value":"string id 1"}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"name","value":{}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"members[value eq \"a\"]","value":{"value":"b"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"u1","displayName":"Team"}}]}`,
	`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]}`,
}

// FuzzPatch runs any body through the PATCH engine, on a user and on a
// group, strictly and leniently: a 4xx SCIM error, or a resource that
// still satisfies the schema's rules (required attributes present, no
// value twice, at most one primary value, immutable values unchanged).
func FuzzPatch(f *testing.F) {
	for _, s := range patchSeeds {
		f.Add(s, false, false)
		f.Add(s, true, true)
	}
	users, groups := compiledTypes(f)
	f.Fuzz(func(t *testing.T, body string, strict, group bool) {
		rt, attrs := users, patchFuzzUser()
		if group {
			rt, attrs = groups, map[string]any{"displayName": "Tour Guides", "members": []any{
				map[string]any{"value": "u1", "display": "Babs"}, map[string]any{"value": "u2", "type": "User"},
			}}
		}
		h := &Handler{limits: DefaultLimits(), strict: strict}
		r := httptest.NewRequest(http.MethodPatch, "/Users/u1", strings.NewReader(body))
		ops, err := h.parsePatch(&request{r: r}, rt)
		if err != nil {
			requireClientError(t, err)
			return
		}
		dec := h.decoder(rt)
		dec.patch = true
		before := cloneMap(attrs)
		if err := rt.applyPatch(context.Background(), dec, "u1", attrs, ops); err != nil {
			requireClientError(t, err)
			return
		}
		checkAttributes(t, rt, before, attrs)
	})
}

// checkAttributes checks what every write must leave: required attributes
// present and not blank, no multi-valued attribute holding a value twice or
// two primary values, immutable values that were set unchanged.
func checkAttributes(t *testing.T, rt *resourceType, before, attrs map[string]any) {
	t.Helper()
	if err := (decoder{rt: rt}).checkRequired(attrs); err != nil {
		t.Fatalf("required attribute missing: %v in %v", err, attrs)
	}
	check := func(defs []*attrDef, m, old map[string]any) {
		for _, def := range defs {
			v, ok := m[def.name]
			if !ok {
				continue
			}
			if s, isStr := v.(string); isStr && def.required && strings.TrimSpace(s) == "" {
				t.Fatalf("required %q is blank", def.name)
			}
			if ov, had := old[def.name]; had && def.mutability == "immutable" && !equalValues(ov, v) {
				t.Fatalf("immutable %q changed from %v to %v", def.name, ov, v)
			}
			list, isList := v.([]any)
			if !def.multi {
				if isList {
					t.Fatalf("single-valued %q holds a list", def.name)
				}
				continue
			}
			if !isList {
				t.Fatalf("multi-valued %q holds %T", def.name, v)
			}
			key := valueKeys(def)
			seen := map[string]bool{}
			primaries := 0
			for _, e := range list {
				k := key(e)
				if seen[k] {
					t.Fatalf("%q holds %v twice: %v", def.name, e, list)
				}
				seen[k] = true
				if isPrimary(e) {
					primaries++
				}
			}
			if primaries > 1 {
				t.Fatalf("%q has %d primary values: %v", def.name, primaries, list)
			}
		}
	}
	check(rt.topLevel, attrs, before)
	for _, e := range rt.extensions {
		m, _ := attrs[e.urn].(map[string]any)
		old, _ := before[e.urn].(map[string]any)
		check(e.attrs, m, old)
	}
}

var resourceSeeds = []string{
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen@example.com","active":true,"name":{"givenName":"Barbara","familyName":"Jensen"},"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"bjensen","externalId":"701984","name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara","middleName":"Jane","honorificPrefix":"Ms.","honorificSuffix":"III"},"displayName":"Babs Jensen","nickName":"Babs","profileUrl":"https://login.example.com/bjensen","emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],"addresses":[{"type":"work","streetAddress":"100 Universal City Plaza","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA","formatted":"100 Universal City Plaza\nHollywood, CA 91608 USA","primary":true}],"phoneNumbers":[{"value":"555-555-5555","type":"work"}],"ims":[{"value":"someaimhandle","type":"aim"}],"photos":[{"value":"https://photos.example.com/profilephoto/72930000000Ccne/F","type":"photo"}],"userType":"Employee","title":"Tour Guide","preferredLanguage":"en-US","locale":"en-US","timezone":"America/Los_Angeles","active":true,"password":"t1meMa$heen","x509Certificates":[{"value":"MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQA"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","costCenter":"4130","organization":"Universal Studios","division":"Theme Park","department":"Tour Operations","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}},"meta":{"resourceType":"User","version":"W/\"3694e05e9dff591\""}}`,
	`{"UserName":"UserName123","Active":true,"DisplayName":"BobIsAmazing","schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"x","name":{"formatted":"Ryan Leenay","familyName":"Leenay","givenName":"Ryan"},"emails":[{"Primary":true,"type":"work","value":"testing@bob.com"},{"Primary":false,"type":"home","value":"testinghome@bob.com"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","emails":"x"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"","active":"False"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","USERNAME":"b"}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a"}]`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Group1DisplayName","members":[{"value":"u1","display":"Babs"},{"value":"u1"}]}`,
	`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\u0000b"}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
}

// FuzzDecode decodes any body as a User and as a Group, strictly and
// leniently: a 4xx SCIM error, or attributes that satisfy the schema's
// rules and decode again to themselves.
func FuzzDecode(f *testing.F) {
	for _, s := range resourceSeeds {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, false)
	}
	users, groups := compiledTypes(f)
	f.Fuzz(func(t *testing.T, body []byte, strict, group bool) {
		rt := users
		if group {
			rt = groups
		}
		v, err := parseJSON(body, DefaultLimits())
		if err != nil {
			requireClientError(t, err)
			return
		}
		// What parseJSON accepts, encoding/json reads the same.
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var std any
		if err := dec.Decode(&std); err != nil || !json.Valid(body) || !reflect.DeepEqual(std, v) {
			t.Fatalf("parseJSON accepted what encoding/json reads otherwise (%v): %q", err, body)
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return
		}
		d := decoder{rt: rt, strict: strict}
		attrs, err := d.resource(obj)
		// Decoding in place (POST, PUT) gives what decoding a copy gives.
		fresh, _ := parseJSON(body, DefaultLimits())
		inPlace, errInPlace := decoder{rt: rt, strict: strict, owned: true}.resource(fresh.(map[string]any))
		if (err == nil) != (errInPlace == nil) || err == nil && !equalValues(attrs, inPlace) {
			t.Fatalf("decoding in place differs: %v, %v\n%v\n%v", err, errInPlace, attrs, inPlace)
		}
		if err != nil {
			requireClientError(t, err)
			return
		}
		checkAttributes(t, rt, map[string]any{}, attrs)
		// What was decoded decodes to itself.
		again := cloneMap(attrs)
		again["schemas"] = []any{rt.core.urn}
		for _, e := range rt.extensions {
			if _, ok := attrs[e.urn]; ok {
				again["schemas"] = append(again["schemas"].([]any), e.urn)
			}
		}
		round, err := d.resource(again)
		if err != nil {
			t.Fatalf("decoded attributes do not decode again: %v\n%v", err, attrs)
		}
		if !equalValues(round, attrs) {
			t.Fatalf("decoding is not idempotent:\n%v\n%v", attrs, round)
		}
	})
}

// compiledTypes compiles the User and Group resource types.
func compiledTypes(tb testing.TB) (users, groups *resourceType) {
	tb.Helper()
	var err error
	if users, err = compileResourceType(UserResourceType()); err != nil {
		tb.Fatal(err)
	}
	if groups, err = compileResourceType(GroupResourceType()); err != nil {
		tb.Fatal(err)
	}
	return users, groups
}
