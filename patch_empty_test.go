package scim_test

import (
	"testing"
)

// TestPatchEmptyReplacement holds every shape of a replace whose value sets
// nothing, as {} or once the attributes the schema does not know are
// dropped, to one answer: it changes nothing, or under WithStrict it is 400
// invalidValue. A filtered replace used to delete the values it matched.
func TestPatchEmptyReplacement(t *testing.T) {
	emails := startUser(`"emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"b@example.com","type":"home","primary":false}],` +
		`"name":{"givenName":"Barbara","familyName":"Jensen"},` +
		`"` + entUserURN + `":{"department":"Tour Operations","manager":{"value":"` + babs + `"}}`)
	replace := func(path, value string) string {
		if path == "" {
			return patchJSON(`{"op":"replace","value":` + value + `}`)
		}
		return patchJSON(`{"op":"replace","path":"` + path + `","value":` + value + `}`)
	}
	member := startGroup(`"members":[{"value":"` + babs + `"},{"value":"` + james + `"}]`)
	runPatchCases(t, []patchCase{
		// A value-path filter without a sub-attribute.
		{
			name: "filtered replace with {}", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false]`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false]`, `{"newProperty":1}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace with primary only", endpoint: "/Users", start: emails,
			body:    replace(`emails[type eq \"home\"]`, `{"primary":true}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace with {} matching nothing creates nothing", endpoint: "/Users", start: emails,
			body:    replace(`emails[type eq \"other\"]`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace of a member with {}", endpoint: "/Groups", start: member,
			body:    replace(`members[value eq \"`+babs+`\"]`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace with a known and an unknown attribute replaces", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false]`, `{"value":"c@example.com","newProperty":1}`),
			lenient: patchOK(`{"emails":[{"value":"a@example.com","type":"work","primary":true},{"value":"c@example.com","type":null}]}`),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "filtered replace with null still removes the matches", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false]`, `null`),
			lenient: patchOK(`{"emails":[{"value":"a@example.com","type":"work","primary":true}]}`),
		},
		// A value-path filter with a sub-attribute: a sub-attribute is
		// simple, so an object is the wrong type in either mode.
		{
			name: "filtered sub-attribute replace with {}", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false].value`, `{}`),
			lenient: patchFail("invalidValue"),
		},
		{
			name: "filtered sub-attribute replace with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(`emails[primary eq false].display`, `{"newProperty":1}`),
			lenient: patchFail("invalidValue"),
		},
		// Unfiltered paths.
		{
			name: "replace of a multi-valued attribute with {}", endpoint: "/Users", start: emails,
			body:    replace(`emails`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a multi-valued attribute with [{}]", endpoint: "/Users", start: emails,
			body:    replace(`emails`, `[{}]`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a multi-valued attribute with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(`emails`, `[{"newProperty":1}]`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a multi-valued attribute with [] still clears it", endpoint: "/Users", start: emails,
			body:    replace(`emails`, `[]`),
			lenient: patchOK(`{"emails":null}`),
		},
		{
			name: "replace of a complex attribute with {}", endpoint: "/Users", start: emails,
			body:    replace(`name`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a complex attribute with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(`name`, `{"newProperty":1}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of an extension's complex attribute with {}", endpoint: "/Users", start: emails,
			body:    replace(entUserURN+`:manager`, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a whole extension with {}", endpoint: "/Users", start: emails,
			body:    replace(entUserURN, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "replace of a whole extension with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(entUserURN, `{"newProperty":1}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidPath"),
		},
		// Without a path.
		{
			name: "path-less replace with {}", endpoint: "/Users", start: emails,
			body:    replace(``, `{}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path-less replace with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(``, `{"newProperty":1}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidPath"),
		},
		{
			name: "path-less replace of a complex attribute with {}", endpoint: "/Users", start: emails,
			body:    replace(``, `{"name":{}}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path-less replace of a multi-valued attribute with unknown attributes only", endpoint: "/Users", start: emails,
			body:    replace(``, `{"emails":[{"newProperty":1}]}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path-less replace of an extension with {}", endpoint: "/Users", start: emails,
			body:    replace(``, `{"`+entUserURN+`":{}}`),
			lenient: patchNoop(),
			strict:  strictPatchFail("invalidValue"),
		},
		{
			name: "path-less replace with an empty and a real value applies the real one", endpoint: "/Users", start: emails,
			body:    replace(``, `{"name":{"newProperty":1},"nickName":"Babs"}`),
			lenient: patchOK(`{"nickName":"Babs","name":{"givenName":"Barbara","familyName":"Jensen"}}`),
			strict:  strictPatchFail("invalidValue"),
		},
	})
}
