package scim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

// hostileCase is one request a hostile or broken client sends.
type hostileCase struct {
	name    string
	method  string
	target  string // below the mount point, with its query, percent-encoded
	body    string
	token   string // "rw" unless set; "-" for none
	headers map[string]string
}

const (
	userURN    = scim.UserSchema
	groupURN   = scim.GroupSchema
	patchURN   = scim.PatchOpSchema
	searchURN  = scim.SearchRequestSchema
	validUser  = `{"schemas":["` + userURN + `"],"userName":"hostile","name":{"givenName":"H","familyName":"Ostile"},"emails":[{"value":"h@example.com","type":"work","primary":true}],"active":true}`
	validGroup = `{"schemas":["` + groupURN + `"],"displayName":"Hostile","members":[{"value":"u1"}]}`
)

func patchOps(ops ...string) string {
	return `{"schemas":["` + patchURN + `"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

func userWith(field string) string {
	return `{"schemas":["` + userURN + `"],"userName":"hostile",` + field + `}`
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + `1` + strings.Repeat(`}`, depth)
}

// hostileCases builds the corpus: truncated and invalid JSON, wrong types
// for every attribute type, huge numbers, invalid UTF-8, NUL bytes,
// case-duplicate keys, deep nesting, filter injection, path traversal in
// ids, oversized headers, wrong content types and wrong methods.
func hostileCases() []hostileCase {
	var cs []hostileCase
	add := func(name, method, target, body string) {
		cs = append(cs, hostileCase{name: name, method: method, target: target, body: body})
	}
	writes := []struct{ method, target string }{
		{"POST", "Users"}, {"PUT", "Users/u1"}, {"POST", "Groups"}, {"PUT", "Groups/g1"},
	}

	// Truncated JSON: a valid body cut at many places.
	for _, cut := range []int{1, 2, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180} {
		add(fmt.Sprintf("truncated user at %d", cut), "POST", "Users", validUser[:cut])
		add(fmt.Sprintf("truncated PUT at %d", cut), "PUT", "Users/u1", validUser[:cut])
	}
	patch := patchOps(`{"op":"add","path":"emails","value":[{"value":"x@example.com"}]}`)
	for _, cut := range []int{1, 30, 60, 90, len(patch) - 1} {
		add(fmt.Sprintf("truncated PATCH at %d", cut), "PATCH", "Users/u1", patch[:cut])
	}

	// Invalid JSON and bodies that are not an object.
	invalid := []string{"", " ", "{", "}", `{"userName":}`, `{'userName':'x'}`, `{"userName":"x",}`,
		`{"userName" "x"}`, `{userName:"x"}`, `[1,]`, `NaN`, `Infinity`, `null`, `[]`, `"string"`, `123`, `true`,
		validUser + `]`, validUser + `}`, validUser + validUser, validUser + ` x`, "\xef\xbb\xbf" + validUser,
		`{"userName":"x"` + "\x00" + `}`, `{"userName":"x\q"}`, `{"userName":"\ud800"` + "\xff}"}
	for i, body := range invalid {
		for _, w := range writes {
			add(fmt.Sprintf("invalid JSON %d %s %s", i, w.method, w.target), w.method, w.target, body)
		}
		add(fmt.Sprintf("invalid JSON %d PATCH", i), "PATCH", "Users/u1", body)
		add(fmt.Sprintf("invalid JSON %d search", i), "POST", ".search", body)
	}

	// Wrong types for every attribute type.
	wrongTypes := []string{
		`"userName":1`, `"userName":true`, `"userName":{}`, `"userName":["a"]`, `"userName":null`, // string
		`"active":"yes"`, `"active":1`, `"active":{}`, `"active":[true]`, // boolean
		`"name":"Barbara"`, `"name":1`, `"name":[1]`, `"name":{"givenName":1}`, `"name":{"givenName":{"x":1}}`, // complex
		`"emails":"x@example.com"`, `"emails":5`, `"emails":true`, `"emails":[5]`, `"emails":[[{"value":"x"}]]`, // multi-valued
		`"emails":[{"value":5}]`, `"emails":[{"value":"x","primary":"maybe"}]`, `"emails":[{"value":"x","type":["work"]}]`,
		`"phoneNumbers":"555"`, `"addresses":"somewhere"`, `"ims":[{"value":"x"},"y"]`,
		`"profileUrl":1`, `"profileUrl":{}`, // reference
		`"x509Certificates":[{"value":"not base64!"}]`, `"x509Certificates":[{"value":1}]`, // binary
		`"` + scim.EnterpriseUserSchema + `":"x"`, `"` + scim.EnterpriseUserSchema + `":[1]`, // extension
		`"` + scim.EnterpriseUserSchema + `":{"manager":1}`, `"` + scim.EnterpriseUserSchema + `":{"employeeNumber":7}`,
		`"schemas":"` + userURN + `"`, `"schemas":[1]`,
	}
	for _, field := range wrongTypes {
		body := userWith(field)
		if strings.HasPrefix(field, `"userName"`) || strings.HasPrefix(field, `"schemas"`) {
			body = `{"schemas":["` + userURN + `"],` + field + `}`
			if strings.HasPrefix(field, `"schemas"`) {
				body = `{"userName":"hostile",` + field + `}`
			}
		}
		add("wrong type POST "+field, "POST", "Users", body)
		add("wrong type PUT "+field, "PUT", "Users/u1", strings.Replace(body, `"hostile"`, `"user-u1"`, 1))
	}
	for _, op := range []string{
		`{"op":"replace","path":"userName","value":1}`, `{"op":"replace","path":"active","value":"yes"}`,
		`{"op":"replace","path":"name","value":"x"}`, `{"op":"add","path":"emails","value":"x@example.com"}`,
		`{"op":"add","path":"emails","value":[5]}`, `{"op":"add","path":"phoneNumbers","value":true}`,
		`{"op":"replace","path":"emails[type eq \"work\"].value","value":7}`, `{"op":"replace","path":"profileUrl","value":[]}`,
		`{"op":"replace","value":"x"}`, `{"op":"replace","value":{"active":{}}}`, `{"op":"add","path":"x509Certificates","value":[{"value":"%%%"}]}`,
	} {
		add("wrong type PATCH "+op, "PATCH", "Users/u1", patchOps(op))
	}
	add("wrong type group displayName", "POST", "Groups", `{"schemas":["`+groupURN+`"],"displayName":5}`)
	add("group members as a bare string", "POST", "Groups", `{"schemas":["`+groupURN+`"],"displayName":"G","members":"u1"}`)
	add("group members as a number", "POST", "Groups", `{"schemas":["`+groupURN+`"],"displayName":"G","members":[7]}`)

	// Empty required attributes.
	for _, field := range []string{`"userName":""`, `"userName":"   "`, `"userName":"\t\n"`} {
		add("empty required POST "+field, "POST", "Users", `{"schemas":["`+userURN+`"],`+field+`}`)
		add("empty required PUT "+field, "PUT", "Users/u1", `{"schemas":["`+userURN+`"],`+field+`}`)
	}
	add("empty displayName", "POST", "Groups", `{"schemas":["`+groupURN+`"],"displayName":""}`)
	add("empty member value", "POST", "Groups", `{"schemas":["`+groupURN+`"],"displayName":"G","members":[{"value":""}]}`)
	add("PATCH userName empty", "PATCH", "Users/u1", patchOps(`{"op":"replace","path":"userName","value":""}`))
	add("PATCH path-less userName empty", "PATCH", "Users/u1", patchOps(`{"op":"replace","value":{"userName":" "}}`))

	// Huge numbers.
	for _, n := range []string{"1e400", "-1e400", "99999999999999999999999999", "1.5", "-0.0000001e-400"} {
		add("huge count "+n, "POST", "Users/.search", `{"schemas":["`+searchURN+`"],"count":`+n+`}`)
		add("huge startIndex "+n, "POST", ".search", `{"schemas":["`+searchURN+`"],"startIndex":`+n+`}`)
		add("huge active "+n, "POST", "Users", userWith(`"active":`+n))
	}
	add("huge count query", "GET", "Users?count=99999999999999999999999", "")
	add("huge startIndex query", "GET", "Users?startIndex=1e400", "")
	add("huge dateTime in filter", "GET", "Users?filter="+url.QueryEscape(`meta.created gt "99999-99-99T99:99:99Z"`), "")

	// Invalid UTF-8.
	add("invalid UTF-8 in a value", "POST", "Users", userWith(`"displayName":"a`+"\xff\xfe"+`"`))
	add("invalid UTF-8 in userName", "POST", "Users", `{"schemas":["`+userURN+`"],"userName":"`+"\xc3\x28"+`"}`)
	add("invalid UTF-8 in a key", "POST", "Users", userWith(`"`+"\xff"+`":"x"`))
	add("overlong UTF-8", "POST", "Users", userWith(`"displayName":"`+"\xc0\xaf"+`"`))
	add("UTF-8 surrogate bytes", "POST", "Users", userWith(`"displayName":"`+"\xed\xa0\x80"+`"`))
	add("invalid UTF-8 in PATCH value", "PATCH", "Users/u1", patchOps(`{"op":"replace","path":"displayName","value":"`+"\xff"+`"}`))
	add("invalid UTF-8 in PATCH path", "PATCH", "Users/u1", patchOps(`{"op":"replace","path":"display`+"\xff"+`","value":"x"}`))
	add("invalid UTF-8 in search filter", "POST", "Users/.search", `{"filter":"userName eq \"`+"\xff"+`\""}`)
	add("invalid UTF-8 in filter query", "GET", "Users?filter=userName%20eq%20%22%FF%22", "")
	add("invalid UTF-8 in attributes", "GET", "Users?attributes=%FF", "")
	add("invalid UTF-8 in id", "GET", "Users/%FF%FE", "")
	add("invalid UTF-8 in PUT id", "PUT", "Users/u1%FF", validUser)

	// NUL bytes and other control characters.
	for _, c := range []string{`\u0000`, `\u0001`, `\u001b`, `\u007f`, `\u0085`, `\u009f`} {
		add("control "+c+" in userName", "POST", "Users", `{"schemas":["`+userURN+`"],"userName":"a`+c+`b"}`)
		add("control "+c+" in displayName", "PUT", "Users/u1", `{"schemas":["`+userURN+`"],"userName":"user-u1","displayName":"a`+c+`"}`)
		add("control "+c+" in PATCH", "PATCH", "Groups/g1", patchOps(`{"op":"replace","path":"displayName","value":"`+c+`"}`))
		add("control "+c+" in a key", "POST", "Users", userWith(`"nick`+c+`Name":"x"`))
	}
	add("NUL in filter", "GET", "Users?filter=userName%20eq%20%22a%00%22", "")
	add("NUL in id", "DELETE", "Users/u1%00", "")
	add("NUL in search filter", "POST", ".search", `{"filter":"userName eq \"a\u0000\""}`)
	add("raw NUL in body", "POST", "Users", "\x00"+validUser)

	// Keys given twice, also in another case.
	for _, body := range []string{
		`{"schemas":["` + userURN + `"],"userName":"a","USERNAME":"b"}`,
		`{"schemas":["` + userURN + `"],"userName":"a","userName":"b"}`,
		`{"schemas":["` + userURN + `"],"Schemas":["` + userURN + `"],"userName":"a"}`,
		userWith(`"name":{"givenName":"a","GivenName":"b"}`),
		userWith(`"emails":[{"value":"a@example.com","Value":"b@example.com"}]`),
		userWith(`"` + scim.EnterpriseUserSchema + `":{"department":"a","DEPARTMENT":"b"}`),
		userWith(`"` + scim.EnterpriseUserSchema + `":{},"` + strings.ToUpper(scim.EnterpriseUserSchema) + `":{}`),
	} {
		add("duplicate keys "+body, "POST", "Users", body)
	}
	add("duplicate op keys", "PATCH", "Users/u1", patchOps(`{"op":"add","OP":"remove","path":"nickName","value":"x"}`))
	add("duplicate Operations", "PATCH", "Users/u1", `{"schemas":["`+patchURN+`"],"Operations":[],"operations":[{"op":"remove","path":"nickName"}]}`)
	add("duplicate search keys", "POST", ".search", `{"filter":"userName pr","FILTER":"id pr"}`)

	// Deep nesting.
	for _, d := range []int{33, 100, 1000, 10000} {
		add(fmt.Sprintf("nesting %d in a user", d), "POST", "Users", userWith(`"name":`+nested(d)))
		add(fmt.Sprintf("nesting %d in PATCH", d), "PATCH", "Users/u1", patchOps(`{"op":"add","path":"nickName","value":`+nested(d)+`}`))
		add(fmt.Sprintf("nesting %d arrays", d), "POST", ".search", strings.Repeat("[", d)+strings.Repeat("]", d))
	}

	// Filter injection.
	for _, f := range []string{
		`userName eq "x" or 1=1`, `userName eq "x"); DROP TABLE users;--`, `userName eq 'x' OR '1'='1'`,
		`userName eq "x" or password pr`, `password eq "t1meMa$heen"`, `password sw "a"`, `userName eq "x"] or [`,
		`emails[value pr]]`, `meta.location eq "x"`, `members.$ref pr`, `groups.$ref co "x"`, `$where eq 1`,
		`userName eq "x" || true`, `userName eq "x" and`, `or userName pr`, `userName eq`, `userName`, `()`,
		`userName eq "x" /* */`, `userName eq "\"`, `userName eq {"$ne":null}`, `userName regex ".*"`,
		`emails[type eq "work"][value pr]`, `emails[members[value pr]]`, `name.givenName.x eq "y"`,
		`urn:x:y:z:userName eq "a"`, `userName eq "a" or ` + strings.Repeat(`userName eq "a" or `, 100) + `userName eq "a"`,
		strings.Repeat("(", 70) + `userName pr` + strings.Repeat(")", 70), `userName eq "` + strings.Repeat("a", 9000) + `"`,
		`not not userName pr`, `userName eq "x" and not`,
	} {
		add("filter "+f, "GET", "Users?filter="+url.QueryEscape(f), "")
		add("search filter "+f, "POST", "Users/.search", `{"filter":`+jsonString(f)+`}`)
	}
	for _, p := range []string{`emails[type eq "work" or 1=1]`, `members[value eq "u1"]]`, `userName"]`, `/userName`,
		`emails[password pr].value`, `meta.version`, `id`, `groups`, `members[$ref eq "x"]`, `emails[type eq "x"].nosuch`} {
		add("PATCH path "+p, "PATCH", "Users/u1", patchOps(`{"op":"replace","path":`+jsonString(p)+`,"value":"x"}`))
	}

	// Paths and ids.
	for _, target := range []string{"Users/../Groups/g1", "Users/..%2FGroups%2Fg1", "Users/./u1", "Groups/../Users/u1",
		"Users/%2e%2e/Groups/g1", "Users//u1", "Users/u1/..", "Users/u1/extra", "Users/nosuch", "Users/" + strings.Repeat("a", 10000)} {
		add("PUT "+target, "PUT", target, validUser)
		add("DELETE "+target, "DELETE", target, "")
		add("PATCH "+target, "PATCH", target, patchOps(`{"op":"replace","path":"displayName","value":"x"}`))
	}

	// Limits.
	add("attributes list of 10,000 names", "GET", "Users?attributes="+strings.Repeat("userName,", 9999)+"userName", "")
	add("excludedAttributes list of 10,000 names", "GET", "Users/u1?excludedAttributes="+strings.Repeat("emails,", 9999)+"emails", "")
	add("search attributes of 10,000 names", "POST", ".search", `{"attributes":[`+strings.Repeat(`"userName",`, 9999)+`"userName"]}`)
	ops := make([]string, 1001)
	for i := range ops {
		ops[i] = `{"op":"add","path":"nickName","value":"x"}`
	}
	add("1,001 PATCH operations", "PATCH", "Users/u1", patchOps(ops...))
	add("a string of 65 KiB", "POST", "Users", userWith(`"displayName":"`+strings.Repeat("a", 65<<10+1)+`"`))
	add("a key of 65 KiB", "POST", "Users", userWith(`"`+strings.Repeat("a", 65<<10+1)+`":1`))
	add("a body over 1 MiB", "POST", "Users", userWith(`"displayName":"`+strings.Repeat("a", 60000)+`","nickName":"`+strings.Repeat("b", 1<<20)+`"`))
	emails := make([]string, 101)
	for i := range emails {
		emails[i] = fmt.Sprintf(`{"value":"e%d@example.com"}`, i)
	}
	add("101 emails (limit 100)", "POST", "Users", userWith(`"emails":[`+strings.Join(emails, ",")+`]`))
	add("101 emails added (limit 100)", "PATCH", "Users/u1", patchOps(`{"op":"add","path":"emails","value":[`+strings.Join(emails, ",")+`]}`))
	for _, s := range []string{"name", "meta", "meta.location", "members.$ref", "password", "addresses", "nosuch"} {
		add("sortBy "+s, "GET", "Users?sortBy="+url.QueryEscape(s), "")
	}
	add("sortBy on groups", "GET", "Groups?sortBy=members.$ref", "")
	add("sortOrder", "GET", "Users?sortOrder=sideways", "")

	// PATCH semantics that must be refused.
	add("replace a member's value", "PATCH", "Groups/g1", patchOps(`{"op":"replace","path":"members[value eq \"u1\"]","value":{"value":"u2"}}`))
	add("replace a member's value by sub-path", "PATCH", "Groups/g1", patchOps(`{"op":"replace","path":"members[value eq \"u1\"].value","value":"u2"}`))
	add("remove userName", "PATCH", "Users/u1", patchOps(`{"op":"remove","path":"userName"}`))
	for _, op := range []string{"copy", "move", "test", "", "ADDX"} {
		add("JSON Patch op "+op, "PATCH", "Users/u1", patchOps(`{"op":"`+op+`","path":"nickName","value":"x"}`))
	}
	add("no Operations", "PATCH", "Users/u1", `{"schemas":["`+patchURN+`"]}`)
	add("Operations not a list", "PATCH", "Users/u1", `{"schemas":["`+patchURN+`"],"Operations":{"op":"add"}}`)
	add("operation not an object", "PATCH", "Users/u1", `{"schemas":["`+patchURN+`"],"Operations":["add"]}`)
	add("member that does not exist", "PATCH", "Groups/g1", patchOps(`{"op":"add","path":"members","value":[{"value":"ghost"}]}`))
	add("replace id", "PATCH", "Users/u1", patchOps(`{"op":"replace","value":{"id":"other"}}`))
	add("add to a read-only attribute", "PATCH", "Users/u1", patchOps(`{"op":"add","path":"groups","value":[{"value":"g1"}]}`))
	add("taken userName", "PUT", "Users/u1", `{"schemas":["`+userURN+`"],"userName":"USER-U2"}`)
	add("taken userName by PATCH", "PATCH", "Users/u1", patchOps(`{"op":"replace","path":"userName","value":"user-u2"}`))

	// Wrong content types.
	for _, ct := range []string{"text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
		"application/scim+json; charset=latin1", "application/json; charset=utf-16", "text/json", "*/*", ";;;", "application/scim+xml"} {
		for _, w := range []struct{ method, target, body string }{{"POST", "Users", validUser}, {"PUT", "Users/u1", validUser}, {"PATCH", "Users/u1", patch}} {
			cs = append(cs, hostileCase{name: "content type " + ct + " " + w.method, method: w.method, target: w.target, body: w.body,
				headers: map[string]string{"Content-Type": ct}})
		}
	}

	// Wrong methods.
	for _, m := range []struct{ method, target string }{
		{"PUT", "Users"}, {"DELETE", "Users"}, {"PATCH", "Users"}, {"POST", "Users/u1"}, {"PUT", "ServiceProviderConfig"},
		{"DELETE", "Schemas"}, {"POST", "ResourceTypes"}, {"GET", ".search"}, {"PUT", "Users/.search"}, {"DELETE", "Users/.search"},
		{"TRACE", "Users/u1"}, {"CONNECT", "Users/u1"}, {"FOO", "Groups/g1"}, {"OPTIONS", "Users"}, {"post", "Users"}, {"PATCH", "Schemas/x"},
	} {
		add("method "+m.method+" "+m.target, m.method, m.target, validUser)
	}

	// Authentication.
	for _, tok := range []string{"-", " ", "wrong", "rw\u0000", "rw,rw", strings.Repeat("x", 100000)} {
		cs = append(cs, hostileCase{name: fmt.Sprintf("token %.10q", tok), method: "POST", target: "Users", body: validUser, token: tok})
	}
	cs = append(cs, hostileCase{name: "basic auth", method: "DELETE", target: "Users/u1", token: "-", headers: map[string]string{"Authorization": "Basic cnc6cnc="}})
	for _, w := range []struct{ method, target, body string }{
		{"POST", "Users", validUser}, {"PUT", "Users/u1", validUser}, {"PATCH", "Users/u1", patch}, {"DELETE", "Users/u1", ""},
		{"POST", "Groups", validGroup}, {"DELETE", "Groups/g1", ""},
	} {
		cs = append(cs, hostileCase{name: "read-only token " + w.method + " " + w.target, method: w.method, target: w.target, body: w.body, token: "ro"})
	}

	// Bulk requests refused as a whole.
	bulk := `{"schemas":["` + scim.BulkRequestSchema + `"],"Operations":[{"method":"POST","path":"/Users","bulkId":"b","data":` + validUser + `}]}`
	for _, body := range []string{bulk[:40], bulk + "]", "\xff" + bulk, `{"schemas":["` + scim.BulkRequestSchema + `"],"Operations":[]}`,
		`{"Operations":[{"method":"POST","path":"/Users","data":` + validUser + `}],"operations":[]}`,
		`{"Operations":[{"method":"POST","path":"/Users","data":` + nested(40) + `}]}`, `{"Operations":"x"}`, `{"failOnErrors":-1,"Operations":[]}`} {
		add("bulk "+body, "POST", "Bulk", body)
	}
	cs = append(cs, hostileCase{name: "bulk with a read-only token", method: "POST", target: "Bulk", body: bulk, token: "ro"})

	// Oversized headers.
	big := strings.Repeat("W/\"x\",", 20000)
	cs = append(cs,
		hostileCase{name: "huge If-Match on PUT", method: "PUT", target: "Users/u1", body: validUser, headers: map[string]string{"If-Match": big}},
		hostileCase{name: "huge If-Match on PATCH", method: "PATCH", target: "Groups/g1", body: patchOps(`{"op":"remove","path":"members[value eq \"u1\"]"}`), headers: map[string]string{"If-Match": big}},
		hostileCase{name: "huge If-Match on DELETE", method: "DELETE", target: "Users/u1", headers: map[string]string{"If-Match": big}},
		hostileCase{name: "huge Content-Type", method: "POST", target: "Users", body: validUser, headers: map[string]string{"Content-Type": strings.Repeat("a", 100000)}},
		hostileCase{name: "huge header with a bad body", method: "POST", target: "Users", body: "{", headers: map[string]string{"X-Padding": strings.Repeat("a", 1<<20)}},
	)
	return cs
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestHostileRequests sends the corpus to a handler over a memory store
// holding two users and a group: each request is a 4xx SCIM error and
// leaves the store byte-for-byte as it was.
func TestHostileRequests(t *testing.T) {
	cases := hostileCases()
	require.GreaterOrEqual(t, len(cases), 200)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, store := fuzzFixture(t, scim.WithLimits(scim.Limits{Values: 100}))
			before := dumpStore(t, store)
			u, err := url.ParseRequestURI("/scim/v2/" + tc.target)
			require.NoError(t, err)
			r := &http.Request{Method: tc.method, URL: u, Header: http.Header{}, Host: "example.com",
				Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RequestURI: u.RequestURI(),
				Body: io.NopCloser(strings.NewReader(tc.body)), ContentLength: int64(len(tc.body))}
			switch tc.token {
			case "":
				r.Header.Set("Authorization", "Bearer rw")
			case "-":
			default:
				r.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.body != "" {
				r.Header.Set("Content-Type", "application/scim+json")
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.GreaterOrEqual(t, w.Code, 400, "%s", w.Body)
			assert.Less(t, w.Code, 500, "%s", w.Body)
			assert.Equal(t, "application/scim+json", w.Header().Get("Content-Type"))
			var body map[string]any
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "%s", w.Body)
			assert.Equal(t, []any{scim.ErrorSchema}, body["schemas"])
			assert.Equal(t, fmt.Sprint(w.Code), body["status"])
			assert.NotEmpty(t, body["detail"])
			assert.True(t, bytes.Equal([]byte(before), []byte(dumpStore(t, store))), "the store changed")
		})
	}
}
