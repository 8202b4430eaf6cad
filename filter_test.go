package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// acmeURN has a dash, which some filter parsers reject.
const (
	acmeURN = "urn:example:params:scim:schemas:extension:acme-corp:2.0:User"
	entURN  = EnterpriseUserSchema
)

// acmeExtension has an attribute of every simple type.
func acmeExtension() schema.Schema {
	return schema.Schema{
		ID:   acmeURN,
		Name: optional.NewString("Acme"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "level", Type: schema.AttributeTypeInteger()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "score", Type: schema.AttributeTypeDecimal()})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{Name: "luckyNumbers", Type: schema.AttributeTypeInteger(), MultiValued: true})),
			schema.SimpleCoreAttribute(schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "hiredAt"})),
			schema.SimpleCoreAttribute(schema.SimpleBinaryParams(schema.BinaryParams{Name: "badge"})),
			schema.SimpleCoreAttribute(schema.SimpleBooleanParams(schema.BooleanParams{Name: "contractor"})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "code", CaseExact: true})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "cost-center"})),
			schema.SimpleCoreAttribute(schema.SimpleReferenceParams(schema.ReferenceParams{Name: "homepage", ReferenceTypes: []schema.AttributeReferenceType{schema.AttributeReferenceTypeExternal}})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name:        "devices",
				MultiValued: true,
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "serial", CaseExact: true}),
					schema.SimpleStringParams(schema.StringParams{Name: "value"}),
					schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "since"}),
					schema.SimpleBooleanParams(schema.BooleanParams{Name: "primary"}),
				},
			}),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "office",
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "building"}),
					schema.SimpleNumberParams(schema.NumberParams{Name: "floor", Type: schema.AttributeTypeInteger()}),
				},
			}),
		},
	}
}

func testUserType(t testing.TB) *resourceType {
	t.Helper()
	rt := UserResourceType()
	rt.Extensions = append(rt.Extensions, SchemaExtension{Schema: acmeExtension()})
	c, err := compileResourceType(rt)
	require.NoError(t, err)
	return c
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testUsers are the fixtures of the Matches and sorting tests.
func testUsers() []*Resource {
	alice := &Resource{
		Type: "User", ID: "id-alice",
		Meta: Meta{Created: ts("2024-01-01T00:00:00Z"), LastModified: ts("2024-06-01T00:00:00Z"), Version: `W/"a1"`},
		Attributes: map[string]any{
			"userName":   "Alice",
			"externalId": "Ext-1",
			"name":       map[string]any{"familyName": "Jensen", "givenName": "Barbara"},
			"active":     true,
			"title":      "",
			"nickName":   nil,
			"profileUrl": "https://example.com/Alice",
			"emails": []any{
				map[string]any{"value": "alice@Example.com", "type": "work", "primary": true},
				map[string]any{"value": "alice@home.org", "type": "home"},
			},
			entURN: map[string]any{"employeeNumber": "701984", "manager": map[string]any{"value": "boss-id"}},
			acmeURN: map[string]any{
				"level": int64(3), "score": 4.5, "luckyNumbers": []any{int64(7), float64(13)},
				"hiredAt": "2020-05-01T09:00:00Z", "badge": "QUJD", "contractor": false,
				"code": "AbC", "cost-center": "R&D", "homepage": "https://alice.example.com/",
				"devices": []any{map[string]any{"serial": "SN-1", "value": "laptop", "since": "2021-01-01T00:00:00+02:00", "primary": true}},
				"office":  map[string]any{"building": "HQ", "floor": json.Number("4")},
			},
		},
	}
	bob := &Resource{
		Type: "User", ID: "id-bob",
		Meta: Meta{Created: ts("2024-03-01T00:00:00Z"), LastModified: ts("2024-03-02T00:00:00Z"), Version: "b1"},
		Attributes: map[string]any{
			"userName":   "bob",
			"externalId": "ext-2",
			"name":       map[string]any{"familyName": "employee"},
			"active":     false,
			"title":      "Boss",
			"emails":     []any{map[string]any{"value": "bob@example.org", "type": "work"}},
			acmeURN: map[string]any{
				"level": 10, "score": int64(4), "luckyNumbers": []any{},
				"hiredAt": "2022-12-31T23:59:59.5-01:00", "contractor": true, "code": "abc",
			},
		},
	}
	carol := &Resource{
		Type: "User", ID: "id-carol",
		Meta: Meta{Created: ts("2023-01-01T00:00:00Z"), LastModified: ts("2025-01-01T00:00:00Z"), Version: `W/"c1"`},
		Attributes: map[string]any{
			"userName": "carol",
			"name":     map[string]any{},
			"emails":   []any{},
			acmeURN:    map[string]any{"hiredAt": "not a date"},
		},
	}
	return []*Resource{alice, bob, carol}
}

func userNames(rs []*Resource) string {
	var names []string
	for _, r := range rs {
		if r == nil {
			names = append(names, "<nil>")
			continue
		}
		n, _ := r.Attributes["userName"].(string)
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

// render writes a parsed filter out with explicit grouping and typed values.
func render(f Filter) string {
	switch f := f.(type) {
	case *LogicalExpr:
		return "(" + render(f.Left) + " " + string(f.Op) + " " + render(f.Right) + ")"
	case *NotExpr:
		return "not(" + render(f.X) + ")"
	case *ValuePathExpr:
		return f.Path.String() + "[" + render(f.Filter) + "]"
	case *CompareExpr:
		s := f.Path.String() + " " + string(f.Op)
		switch v := f.Value.(type) {
		case nil:
			if f.Op != OpPresent {
				s += " null"
			}
		case string:
			s += " " + strconv.Quote(v)
		case bool:
			s += " " + strconv.FormatBool(v)
		case int64:
			s += " int:" + strconv.FormatInt(v, 10)
		case float64:
			s += " float:" + strconv.FormatFloat(v, 'g', -1, 64)
		case time.Time:
			s += " time:" + v.UTC().Format(time.RFC3339Nano)
		default:
			s += fmt.Sprintf(" %T:%v", v, v)
		}
		return s
	}
	return fmt.Sprintf("<%T>", f)
}

func TestParseFilter(t *testing.T) {
	rt := testUserType(t)
	tests := []struct {
		in, want string
	}{
		{`userName eq "bjensen"`, `userName eq "bjensen"`},
		{`USERNAME EQ "x"`, `userName eq "x"`},
		{`userName Eq "x" AND Active eq true`, `(userName eq "x" and active eq true)`},
		{`name.GIVENNAME sw "B"`, `name.givenName sw "B"`},
		{"  userName\teq \"x\"  ", `userName eq "x"`},
		{`userName eq "a\"b\\c\/\u00e9\n"`, `userName eq "a\"b\\c/é\n"`},
		{`userName eq ""`, `userName eq ""`},
		// precedence: not > and > or, left-associative
		{`userName eq "a" or title eq "b" and active eq true`, `(userName eq "a" or (title eq "b" and active eq true))`},
		{`userName eq "a" and title eq "b" or active eq true`, `((userName eq "a" and title eq "b") or active eq true)`},
		{`not (userName eq "a") and active eq true`, `(not(userName eq "a") and active eq true)`},
		{`not(userName eq "a" or title pr)`, `not((userName eq "a" or title pr))`},
		{`(userName eq "a" or title eq "b") and active eq true`, `((userName eq "a" or title eq "b") and active eq true)`},
		{`userName pr or title pr or nickName pr`, `((userName pr or title pr) or nickName pr)`},
		{`((userName pr))`, `userName pr`},
		// value paths
		{`emails[type eq "work" and value co "@example.com"]`, `emails[(emails.type eq "work" and emails.value co "@example.com")]`},
		{`Emails[Type eq "work" or not (primary eq true)]`, `emails[(emails.type eq "work" or not(emails.primary eq true))]`},
		{`emails[(type eq "a" or type eq "b") and value pr]`, `emails[((emails.type eq "a" or emails.type eq "b") and emails.value pr)]`},
		{`emails[type eq "work"] and userName pr`, `(emails[emails.type eq "work"] and userName pr)`},
		{`name[familyName eq "x"]`, `name[name.familyName eq "x"]`},
		{`meta[created gt "2020-01-01T00:00:00Z"]`, `meta[meta.created gt time:2020-01-01T00:00:00Z]`},
		{entURN + `:manager[value eq "m"]`, entURN + `:manager[` + entURN + `:manager.value eq "m"]`},
		{acmeURN + `:devices[serial eq "SN"]`, acmeURN + `:devices[` + acmeURN + `:devices.serial eq "SN"]`},
		// URN-qualified paths, core and extension
		{UserSchema + `:userName eq "x"`, `userName eq "x"`},
		{UserSchema + `:name.familyName eq "x"`, `name.familyName eq "x"`},
		{UserSchema + `:emails[type eq "work"]`, `emails[emails.type eq "work"]`},
		{`URN:IETF:params:scim:schemas:core:2.0:user:USERNAME eq "x"`, `userName eq "x"`},
		{entURN + `:manager.value eq "m"`, entURN + `:manager.value eq "m"`},
		{entURN + `:employeeNumber eq "1"`, entURN + `:employeeNumber eq "1"`},
		{`employeeNumber eq "1"`, entURN + `:employeeNumber eq "1"`},
		{acmeURN + `:cost-center eq "R&D"`, acmeURN + `:cost-center eq "R&D"`},
		{acmeURN + `:level gt 2`, acmeURN + `:level gt int:2`},
		// a comparison on a complex attribute addresses its value
		{`emails co "x"`, `emails.value co "x"`},
		{`emails eq "x"`, `emails.value eq "x"`},
		{entURN + `:manager eq "m"`, entURN + `:manager.value eq "m"`},
		{`name pr`, `name pr`},
		{`emails pr`, `emails pr`},
		// common attributes
		{`id eq "1"`, `id eq "1"`},
		{`externalId eq "E"`, `externalId eq "E"`},
		{`meta.created gt "2024-01-02T03:04:05.123456789012Z"`, `meta.created gt time:2024-01-02T03:04:05.123456789Z`},
		{`meta.lastModified lt "2024-01-02T03:04:05+02:00"`, `meta.lastModified lt time:2024-01-02T01:04:05Z`},
		{`meta.lastModified lt "2024-01-02t03:04:05z"`, `meta.lastModified lt time:2024-01-02T03:04:05Z`},
		{`meta.resourceType eq "User"`, `meta.resourceType eq "User"`},
		// value types
		{`active eq true`, `active eq true`},
		{`active ne false`, `active ne false`},
		{`level eq 3`, acmeURN + `:level eq int:3`},
		{`level eq -3`, acmeURN + `:level eq int:-3`},
		{`level eq 1e3`, acmeURN + `:level eq int:1000`},
		{`level eq 2.0`, acmeURN + `:level eq int:2`},
		{`level le 9223372036854775807`, acmeURN + `:level le int:9223372036854775807`},
		{`score ge 4.5`, acmeURN + `:score ge float:4.5`},
		{`score eq 4`, acmeURN + `:score eq float:4`},
		{`score lt -1.5E-3`, acmeURN + `:score lt float:-0.0015`},
		{`luckyNumbers eq 7`, acmeURN + `:luckyNumbers eq int:7`},
		{`hiredAt ge "2020-05-01T09:00:00.5Z"`, acmeURN + `:hiredAt ge time:2020-05-01T09:00:00.5Z`},
		{`badge eq "QUJD"`, acmeURN + `:badge eq "QUJD"`},
		{`badge co "UJ"`, acmeURN + `:badge co "UJ"`},
		{`homepage sw "https://"`, acmeURN + `:homepage sw "https://"`},
		{`homepage gt "a"`, acmeURN + `:homepage gt "a"`},
		{`x509Certificates.value eq "QUJD"`, `x509Certificates.value eq "QUJD"`},
		{`title eq null`, `title eq null`},
		{`level ne null`, acmeURN + `:level ne null`},
		{`hiredAt eq null`, acmeURN + `:hiredAt eq null`},
		// operators and keywords touching brackets and strings
		{`(userName pr)and(title pr)`, `(userName pr and title pr)`},
		{`userName eq "x"and title pr`, `(userName eq "x" and title pr)`},
	}
	for _, tc := range tests {
		for _, strict := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/strict=%v", tc.in, strict), func(t *testing.T) {
				in := tc.in
				if strict {
					in = withExtensionURN(tc.in, tc.want)
				}
				f, err := rt.parseFilter(in, strict)
				require.NoError(t, err)
				assert.Equal(t, tc.want, render(f))
			})
		}
	}
}

// withExtensionURN qualifies a filter's leading extension attribute with
// its URN, as strict mode requires, taking the URN from the expected
// canonical form of the filter.
func withExtensionURN(in, want string) string {
	if strings.HasPrefix(in, "urn:") || !strings.HasPrefix(want, "urn:") {
		return in
	}
	urn, _, ok := strings.Cut(want, ":"+strings.Fields(in)[0])
	if !ok {
		return in
	}
	return urn + ":" + in
}

func TestParseFilterPaths(t *testing.T) {
	rt := testUserType(t)
	f, err := rt.parseFilter(`emails[type eq "work"]`, true)
	require.NoError(t, err)
	vp := f.(*ValuePathExpr)
	assert.Equal(t, AttrPath{Name: "emails", Type: TypeComplex, MultiValued: true}, vp.Path)
	assert.Equal(t, AttrPath{Name: "emails", Sub: "type", Type: TypeString, MultiValued: true}, vp.Filter.(*CompareExpr).Path)

	f, err = rt.parseFilter(`id eq "x" and externalId eq "y" and userName eq "z"`, true)
	require.NoError(t, err)
	and := f.(*LogicalExpr)
	assert.Equal(t, AttrPath{Name: "userName", Type: TypeString}, and.Right.(*CompareExpr).Path)
	inner := and.Left.(*LogicalExpr)
	assert.Equal(t, AttrPath{Name: "id", Type: TypeString, CaseExact: true}, inner.Left.(*CompareExpr).Path)
	assert.Equal(t, AttrPath{Name: "externalId", Type: TypeString, CaseExact: true}, inner.Right.(*CompareExpr).Path)

	f, err = rt.parseFilter(`meta.created gt "2024-01-01T00:00:00Z"`, true)
	require.NoError(t, err)
	c := f.(*CompareExpr)
	assert.Equal(t, AttrPath{Name: "meta", Sub: "created", Type: TypeDateTime}, c.Path)
	assert.Equal(t, ts("2024-01-01T00:00:00Z"), c.Value)

	f, err = rt.parseFilter(`code eq "x"`, false)
	require.NoError(t, err)
	assert.Equal(t, AttrPath{URN: acmeURN, Name: "code", Type: TypeString, CaseExact: true}, f.(*CompareExpr).Path)
	_, err = rt.parseFilter(`code eq "x"`, true)
	requireFilterError(t, err, `unknown attribute "code"`)
}

func TestParseFilterGroup(t *testing.T) {
	rt, err := compileResourceType(GroupResourceType())
	require.NoError(t, err)
	f, err := rt.parseFilter(`displayName eq "Admins" and members[value eq "u1"]`, true)
	require.NoError(t, err)
	assert.Equal(t, `(displayName eq "Admins" and members[members.value eq "u1"])`, render(f))
	f, err = rt.parseFilter(`members eq "u1"`, true)
	require.NoError(t, err)
	assert.Equal(t, `members.value eq "u1"`, render(f))
	_, err = rt.parseFilter(`userName eq "x"`, true)
	requireFilterError(t, err, "unknown attribute")
}

// TestParseFilterLenient covers what Entra ID and Microsoft's SCIM
// validator send: accepted leniently, rejected in strict mode.
func TestParseFilterLenient(t *testing.T) {
	rt := testUserType(t)
	tests := []struct {
		in, want string
	}{
		{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
			`(name.familyName eq "Employee" and (emails.value co "example.com" or emails.value co "example.org"))`},
		{`userName sw O`, `userName sw "O"`},
		{`userName eq O'Brien`, `userName eq "O'Brien"`},
		{`emails[type eq work]`, `emails[emails.type eq "work"]`},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, `meta.created gt time:2015-10-10T21:38:21.8617979Z`},
		{`meta.created gt "2015-10-10T14:38:21"`, `meta.created gt time:2015-10-10T14:38:21Z`},
		{`meta.created gt "2015-10-10T14:38:21,5Z"`, `meta.created gt time:2015-10-10T14:38:21.5Z`},
		{`active eq "True"`, `active eq true`},
		{`active eq "false"`, `active eq false`},
		{`active eq False`, `active eq false`},
		{`active eq TRUE`, `active eq true`},
		{`title eq NULL`, `title eq null`},
		{`externalId eq 12345`, `externalId eq "12345"`},
		{`userName eq True`, `userName eq "True"`},
		{`level eq "7"`, acmeURN + `:level eq int:7`},
		{`score gt "1.5"`, acmeURN + `:score gt float:1.5`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			f, err := rt.parseFilter(tc.in, false)
			require.NoError(t, err)
			assert.Equal(t, tc.want, render(f))
			_, err = rt.parseFilter(tc.in, true)
			requireFilterError(t, err, "")
		})
	}
}

func requireFilterError(t *testing.T, err error, detail string) {
	t.Helper()
	require.Error(t, err)
	var se *Error
	require.True(t, errors.As(err, &se), "error %v is not a *Error", err)
	assert.Equal(t, 400, se.Status)
	assert.Equal(t, SCIMTypeInvalidFilter, se.SCIMType)
	assert.Contains(t, se.Detail, detail)
}

func TestParseFilterErrors(t *testing.T) {
	rt := testUserType(t)
	deep := func(n int) string {
		return strings.Repeat("(", n) + "userName pr" + strings.Repeat(")", n)
	}
	tests := []struct {
		name, in, detail string
	}{
		{"empty", ``, `expected an attribute`},
		{"blank", `   `, `expected an attribute`},
		{"unterminated string", `userName eq "abc`, `unterminated string (at position 13)`},
		{"unterminated escape", `userName eq "abc\"`, `unterminated string`},
		{"bad escape", `userName eq "a\qb"`, `invalid string`},
		{"control char in string", "userName eq \"a\x01\"", `control character U+0001 (at position 15)`},
		{"unknown attribute", `nosuch eq "x"`, `unknown attribute "nosuch" (at position 1)`},
		{"unknown sub-attribute", `name.nosuch eq "x"`, `unknown attribute "name.nosuch"`},
		{"sub of simple", `userName.x eq "x"`, `unknown attribute`},
		{"unknown URN", `urn:example:nosuch:2.0:User:userName eq "x"`, `unknown attribute`},
		{"URN without attribute", UserSchema + ` eq "x"`, `unknown attribute`},
		{"bad path", `user..name eq "x"`, `not a valid attribute path`},
		{"trailing dot", `userName. eq "x"`, `not a valid attribute path`},
		{"three levels", `name.givenName.x eq "x"`, `not a valid attribute path`},
		{"unknown operator", `userName equals "x"`, `unknown operator "equals" after "userName"; use eq, ne`},
		{"missing operator", `userName`, `missing an operator`},
		{"operator is a string", `userName "x"`, `unknown operator`},
		{"missing value", `userName eq`, `missing a value after "eq"`},
		{"missing value before paren", `(userName eq)`, `missing a value after "eq"`},
		{"pr with value", `userName pr "x"`, `pr takes no value`},
		{"pr with bare value", `userName pr x`, `pr takes no value`},
		{"dangling and", `userName pr and`, `expected an attribute, "(" or "not", got the end of the filter`},
		{"dangling or", `userName pr or`, `expected an attribute`},
		{"leading and", `and userName pr`, `no filter before it`},
		{"and or", `userName pr and or title pr`, `no filter before it`},
		{"missing and", `userName eq "x" title pr`, `expected "and", "or" or the end of the filter, got "title"`},
		{"two values", `userName eq "a" "b"`, `expected "and", "or"`},
		{"unclosed paren", `(userName pr`, `"(" is never closed with ")" (at position 1)`},
		{"unclosed inner paren", `((userName pr)`, `never closed`},
		{"extra close paren", `userName pr)`, `")" has no matching opening bracket`},
		{"empty parens", `()`, `expected an attribute`},
		{"unclosed bracket", `emails[type pr`, `"[" is never closed with "]"`},
		{"extra close bracket", `emails[type pr]]`, `"]" has no matching opening bracket`},
		{"bracket closed by paren", `(emails[type pr)]`, `expected "and", "or" or "]"`},
		{"bare close bracket", `emails type pr]`, `unknown operator`},
		{"nested value path", `emails[type[value pr]]`, `value filters cannot nest`},
		{"full path in value path", `emails[emails.type eq "x"]`, `must be the name of one of its sub-attributes`},
		{"unknown sub in value path", `emails[nosuch eq "x"]`, `emails has no sub-attribute "nosuch"`},
		{"value path on simple", `userName[value pr]`, `not a complex attribute`},
		{"value path on sub", `name.givenName[value pr]`, `not a complex attribute`},
		{"value path then sub", `emails[type eq "work"].value eq "x"`, `expected "and", "or"`},
		{"not without paren", `not userName eq "x"`, `"not" must be followed by "("`},
		{"not at end", `not`, `"not" must be followed by "("`},
		{"bare word strict", `userName eq bjensen`, `not a JSON value; put strings in double quotes`},
		{"capital literal strict", `active eq True`, `not a JSON value`},
		// wrong value types
		{"string for boolean", `active eq "true"`, `active is a boolean`},
		{"number for boolean", `active eq 1`, `active is a boolean`},
		{"number for string", `userName eq 5`, `userName is of type string; give the value as a quoted string`},
		{"bool for string", `userName eq true`, `quoted string`},
		{"string for integer", `level eq "3"`, `is an integer`},
		{"fraction for integer", `level eq 1.5`, `is an integer, and "1.5" is not one`},
		{"integer overflow", `level eq 9223372036854775808`, `is an integer`},
		{"bool for decimal", `score eq true`, `is a decimal number`},
		{"decimal overflow", `score eq 1e400`, `is a decimal number`},
		{"bad number", `score eq 01`, `not a JSON value`},
		{"number for dateTime", `hiredAt eq 5`, `is a dateTime`},
		{"bad dateTime", `hiredAt eq "yesterday"`, `is a dateTime`},
		{"dateTime without zone strict", `hiredAt eq "2020-01-01T00:00:00"`, `is a dateTime`},
		{"dateTime with comma strict", `hiredAt eq "2020-01-01T00:00:00,5Z"`, `is a dateTime`},
		{"binary with number", `badge eq 1`, `quoted string`},
		// operators that do not apply to the type
		{"gt on boolean", `active gt true`, `operator gt cannot order values of active, which is of type boolean`},
		{"le on boolean", `contractor le false`, `cannot order`},
		{"lt on binary", `badge lt "x"`, `cannot order`},
		{"co on boolean", `active co "t"`, `operator co applies to strings`},
		{"sw on integer", `level sw 1`, `applies to strings`},
		{"ew on decimal", `score ew 1`, `applies to strings`},
		{"co on dateTime", `hiredAt co "2020"`, `applies to strings`},
		{"gt null", `userName gt null`, `null can only be compared with eq or ne`},
		{"co null", `userName co null`, `null can only`},
		// complex attributes without a value sub-attribute
		{"eq on complex without value", `name eq "x"`, `name is complex and has no "value" sub-attribute`},
		{"co on complex without value", `office co "x"`, `has no "value" sub-attribute`},
		{"eq on meta", `meta eq "x"`, `has no "value" sub-attribute`},
		// limits
		{"too long", `userName eq "` + strings.Repeat("a", DefaultLimits().FilterBytes) + `"`, `more than the 8192 allowed`},
		{"too deep", deep(DefaultLimits().FilterDepth + 1), `more than 64 levels deep`},
		{"too deep not", strings.Repeat("not (", DefaultLimits().FilterDepth+1) + "userName pr" + strings.Repeat(")", DefaultLimits().FilterDepth+1), `more than 64 levels deep`},
		{"too deep mixed", strings.Repeat("(", DefaultLimits().FilterDepth) + "emails[type pr]" + strings.Repeat(")", DefaultLimits().FilterDepth), `more than 64 levels deep`},
	}
	// Strict mode needs extension attributes URN-qualified.
	qualify := regexp.MustCompile(`^(level|score|hiredAt|badge|contractor|office) `)
	for i := range tests {
		tests[i].in = qualify.ReplaceAllString(tests[i].in, acmeURN+":$1 ")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := rt.parseFilter(tc.in, true)
			requireFilterError(t, err, tc.detail)
			assert.Nil(t, f)
			if tc.name != "too long" {
				assert.Contains(t, err.(*Error).Detail, "(at position ")
			}
		})
	}
	// Errors that stay errors in lenient mode.
	for _, tc := range tests {
		switch tc.name {
		case "bare word strict", "capital literal strict", "string for boolean", "number for string",
			"bool for string", "string for integer", "dateTime without zone strict", "dateTime with comma strict",
			"binary with number", "bad number", "too long", "value path then sub":
			continue
		}
		t.Run("lenient/"+tc.name, func(t *testing.T) {
			_, err := rt.parseFilter(tc.in, false)
			requireFilterError(t, err, "")
		})
	}
}

func TestParseFilterLimits(t *testing.T) {
	rt := testUserType(t)
	long := `userName eq "` + strings.Repeat("a", DefaultLimits().FilterBytes-14) + `"`
	require.Len(t, long, DefaultLimits().FilterBytes)
	_, err := rt.parseFilter(long, true)
	require.NoError(t, err)

	deep := strings.Repeat("(", DefaultLimits().FilterDepth) + "userName pr" + strings.Repeat(")", DefaultLimits().FilterDepth)
	_, err = rt.parseFilter(deep, true)
	require.NoError(t, err)

	// A flat chain of and/or is not nesting, but counts its comparisons.
	chain := "userName pr" + strings.Repeat(" or userName pr", DefaultLimits().FilterTerms-1)
	f, err := rt.parseFilter(chain, true)
	require.NoError(t, err)
	assert.True(t, Matches(f, testUsers()[0]))
	_, err = rt.parseFilter(chain+" or userName pr", true)
	requireFilterError(t, err, "more than 100 comparisons")
}

func TestMatchesFilter(t *testing.T) {
	rt := testUserType(t)
	users := testUsers()
	tests := []struct {
		filter string
		want   string // userNames of the matching fixtures
	}{
		// string, case-insensitive
		{`userName eq "alice"`, "Alice"},
		{`userName eq "ALICE"`, "Alice"},
		{`userName ne "alice"`, "bob,carol"},
		{`userName co "LI"`, "Alice"},
		{`userName sw "B"`, "bob"},
		{`userName ew "OL"`, "carol"},
		{`userName gt "b"`, "bob,carol"},
		{`userName ge "BOB"`, "bob,carol"},
		{`userName lt "BOB"`, "Alice"},
		{`userName le "Bob"`, "Alice,bob"},
		{`name.familyName eq "JENSEN"`, "Alice"},
		{`cost-center eq "r&d"`, "Alice"},
		// string, case-exact: id, externalId, a caseExact extension attribute
		{`id eq "id-alice"`, "Alice"},
		{`id eq "ID-ALICE"`, ""},
		{`id sw "id-"`, "Alice,bob,carol"},
		{`id ne "id-bob"`, "Alice,carol"},
		{`externalId eq "Ext-1"`, "Alice"},
		{`externalId eq "ext-1"`, ""},
		{`externalId co "xt-"`, "Alice,bob"},
		{`externalId co "XT"`, ""},
		{`externalId sw "E"`, "Alice"},
		{`externalId ew "-2"`, "bob"},
		{`externalId gt "Z"`, "bob"},
		{`externalId lt "Z"`, "Alice"},
		{`externalId ne "Ext-1"`, "bob,carol"},
		{`externalId pr`, "Alice,bob"},
		{`code eq "abc"`, "bob"},
		{`code eq "AbC"`, "Alice"},
		// boolean
		{`active eq true`, "Alice"},
		{`active eq false`, "bob"},
		{`active ne true`, "bob,carol"},
		{`active pr`, "Alice,bob"},
		{`contractor eq false`, "Alice"},
		{acmeURN + `:contractor eq true`, "bob"},
		// integer, stored as int64, int and json.Number
		{`level eq 3`, "Alice"},
		{`level eq 3.0`, "Alice"},
		{`level ne 3`, "bob,carol"},
		{`level gt 3`, "bob"},
		{`level ge 3`, "Alice,bob"},
		{`level lt 10`, "Alice"},
		{`level le 10`, "Alice,bob"},
		{acmeURN + `:level eq 10`, "bob"},
		{`office.floor gt 3`, "Alice"},
		{`office.floor eq 4`, "Alice"},
		// decimal, stored as float64 and int64
		{`score eq 4.5`, "Alice"},
		{`score eq 4`, "bob"},
		{`score gt 4`, "Alice"},
		{`score lt 4.5`, "bob"},
		{`score ge 4.5`, "Alice"},
		{`score le 4.5`, "Alice,bob"},
		// multi-valued integer: any value
		{`luckyNumbers eq 13`, "Alice"},
		{`luckyNumbers eq 7`, "Alice"},
		{`luckyNumbers gt 10`, "Alice"},
		{`luckyNumbers lt 7`, ""},
		{`luckyNumbers ne 7`, "bob,carol"},
		{`luckyNumbers pr`, "Alice"},
		// dateTime; carol's does not parse
		{`hiredAt eq "2020-05-01T11:00:00+02:00"`, "Alice"},
		{`hiredAt gt "2021-01-01T00:00:00Z"`, "bob"},
		{`hiredAt lt "2023-01-01T00:00:00Z"`, "Alice"},
		{`hiredAt ge "2023-01-01T00:59:59.5Z"`, "bob"},
		{`hiredAt le "2023-01-01T00:59:59.5Z"`, "Alice,bob"},
		{`hiredAt gt "1900-01-01T00:00:00Z"`, "Alice,bob"},
		{`hiredAt ne "2020-05-01T09:00:00Z"`, "bob,carol"},
		{`hiredAt pr`, "Alice,bob,carol"},
		// binary and reference are case-exact
		{`badge eq "QUJD"`, "Alice"},
		{`badge eq "qujd"`, ""},
		{`badge co "UJ"`, "Alice"},
		{`homepage sw "https://alice"`, "Alice"},
		{`homepage eq "HTTPS://alice.example.com/"`, ""},
		{`homepage gt "https://b"`, ""},
		{`profileUrl ew "/Alice"`, "Alice"},
		// meta
		{`meta.created gt "2024-01-01T00:00:00Z"`, "bob"},
		{`meta.created ge "2024-01-01T00:00:00Z"`, "Alice,bob"},
		{`meta.created eq "2024-01-01T01:00:00+01:00"`, "Alice"},
		{`meta.lastModified lt "2024-06-01T00:00:00Z"`, "bob"},
		{`meta.lastModified gt "2024-05-31T23:59:59Z"`, "Alice,carol"},
		{`meta.resourceType eq "user"`, ""},
		{`meta.resourceType eq "User"`, "Alice,bob,carol"},
		{`meta.version eq "W/\"b1\""`, "bob"}, // as served in ETags
		{`meta.version eq "b1"`, "bob"},
		{`meta pr`, "Alice,bob,carol"},
		// pr and null on missing, empty and null values
		{`title pr`, "bob"},
		{`nickName pr`, ""},
		{`title eq null`, "Alice,carol"},
		{`title ne null`, "bob"},
		{`nickName eq null`, "Alice,bob,carol"},
		{`title eq ""`, "Alice"},
		{`title ne "Boss"`, "Alice,carol"},
		{`emails pr`, "Alice,bob"},
		{`name pr`, "Alice,bob"},
		{`level pr`, "Alice,bob"},
		{entURN + `:manager pr`, "Alice"},
		{entURN + `:manager.value eq "BOSS-ID"`, ""}, // a reference's value is an id: case-exact
		{entURN + `:manager.value eq "boss-id"`, "Alice"},
		{entURN + `:manager eq "boss-id"`, "Alice"},
		{`employeeNumber eq "701984"`, "Alice"},
		// multi-valued complex: any element
		{`emails.value co "example"`, "Alice,bob"},
		{`emails co "home"`, "Alice"},
		{`emails.type eq "work"`, "Alice,bob"},
		{`emails.type ne "home"`, "bob,carol"},
		{`emails.primary eq true`, "Alice"},
		// value paths: one element must match all of the inner filter
		{`emails[type eq "work" and value co "home"]`, ""},
		{`emails.type eq "work" and emails.value co "home"`, "Alice"},
		{`emails[type eq "home" or value ew ".ORG"]`, "Alice,bob"},
		{`emails[not (type eq "work")]`, "Alice"},
		{`emails[primary eq true]`, "Alice"},
		{`emails[value pr]`, "Alice,bob"},
		{`not (emails[value pr])`, "carol"},
		{`name[familyName eq "jensen"]`, "Alice"},
		{`name[familyName eq "jensen" and givenName sw "b"]`, "Alice"},
		{entURN + `:manager[value eq "boss-id"]`, "Alice"},
		{acmeURN + `:devices[serial eq "SN-1" and since lt "2021-01-01T00:00:00Z"]`, "Alice"},
		{acmeURN + `:devices[serial eq "sn-1"]`, ""},
		{`emails[type eq "work"] and userName sw "b"`, "bob"},
		// logic
		{`userName eq "alice" or userName eq "bob" and active eq true`, "Alice"},
		{`(userName eq "alice" or userName eq "bob") and active eq false`, "bob"},
		{`not (active eq true) and userName sw "c"`, "carol"},
		{`not (userName eq "alice" or userName eq "bob")`, "carol"},
		{`not (not (userName eq "alice"))`, "Alice"},
		// lenient forms (Microsoft's test suite, Entra ID)
		{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`, "bob"},
		{`userName sw A`, "Alice"},
		{`meta.Created gt 2015-10-10T14:38:21.8617979-07:00`, "Alice,bob,carol"},
		{`active eq "True"`, "Alice"},
		{`emails[type eq work]`, "Alice,bob"},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			// Lenient: some rows name extension attributes without their URN.
			f, err := rt.parseFilter(tc.filter, false)
			require.NoError(t, err)
			var got []*Resource
			for _, u := range users {
				if Matches(f, u) {
					got = append(got, u)
				}
			}
			assert.Equal(t, tc.want, userNames(got))
		})
	}
}

func TestMatchesHandBuilt(t *testing.T) {
	r := &Resource{Type: "User", ID: "x", Attributes: map[string]any{
		"n":     json.Number("9007199254740993"),
		"f":     9007199254740992.0,
		"big":   uint64(math.MaxUint64),
		"s":     "Straße",
		"k":     "\u212a", // Kelvin sign
		"multi": []any{"a", nil, "B"},
		"bools": "True",
	}}
	num := func(name string, op CompareOp, v any) *CompareExpr {
		return &CompareExpr{Path: AttrPath{Name: name, Type: TypeInteger}, Op: op, Value: v}
	}
	assert.True(t, Matches(nil, r))
	assert.False(t, Matches(&CompareExpr{Path: AttrPath{Name: "id"}, Op: OpPresent}, nil))
	// 2^53+1 as an integer is greater than the float 2^53, which it would
	// equal if converted to float64.
	assert.True(t, Matches(num("n", OpGreater, 9007199254740992.0), r))
	assert.False(t, Matches(num("n", OpEqual, 9007199254740992.0), r))
	assert.True(t, Matches(num("f", OpLess, int64(9007199254740993)), r))
	assert.True(t, Matches(num("f", OpEqual, int64(9007199254740992)), r))
	assert.True(t, Matches(num("big", OpGreater, int64(math.MaxInt64)), r))
	assert.True(t, Matches(num("n", OpLess, math.Inf(1)), r))
	assert.True(t, Matches(num("n", OpGreater, math.Inf(-1)), r))
	assert.True(t, Matches(num("n", OpGreater, -9.3e18), r))
	assert.True(t, Matches(num("n", OpLess, 9.3e18), r))
	assert.True(t, Matches(num("n", OpLess, 9007199254740993.5), r))
	// folding
	str := func(name string, op CompareOp, v any) *CompareExpr {
		return &CompareExpr{Path: AttrPath{Name: name, Type: TypeString}, Op: op, Value: v}
	}
	assert.True(t, Matches(str("s", OpEqual, "STRASSE"), r) == false, "no multi-rune folding")
	assert.True(t, Matches(str("s", OpEqual, "straße"), r))
	assert.True(t, Matches(str("k", OpEqual, "k"), r))
	assert.True(t, Matches(str("multi", OpEqual, "b"), r))
	assert.True(t, Matches(str("multi", OpPresent, nil), r))
	// a value of the wrong type matches nothing, and ne everything
	assert.False(t, Matches(str("n", OpEqual, "9007199254740993"), r))
	assert.True(t, Matches(str("n", OpNotEqual, "9007199254740993"), r))
	// booleans stored as strings by lenient hosts; no ordering of booleans
	b := &CompareExpr{Path: AttrPath{Name: "bools", Type: TypeBoolean}, Op: OpEqual, Value: true}
	assert.True(t, Matches(b, r))
	b.Op = OpGreater
	assert.False(t, Matches(b, r))
	// hand-built paths without a type compare by the values' kinds
	assert.True(t, Matches(&CompareExpr{Path: AttrPath{Name: "s"}, Op: OpStartsWith, Value: "STR"}, r))
	assert.True(t, Matches(&CompareExpr{Path: AttrPath{Name: "n"}, Op: OpGreater, Value: int64(1)}, r))
}

func TestCompareAndSort(t *testing.T) {
	rt := testUserType(t)
	path := func(s string) AttrPath {
		p, _, err := rt.resolve(s, false)
		require.NoError(t, err)
		return p
	}
	sorted := func(by string, desc bool) string {
		us := testUsers()
		SortResources(us, path(by), desc)
		return userNames(us)
	}
	tests := []struct {
		by        string
		asc, desc string
	}{
		// folded: "Alice" < "bob" < "carol"; case-exact "Ext-1" < "ext-2"
		{"userName", "Alice,bob,carol", "carol,bob,Alice"},
		{"externalId", "Alice,bob,carol", "carol,bob,Alice"},
		{"id", "Alice,bob,carol", "carol,bob,Alice"},
		// "" and missing values sort last ascending, first descending,
		// keeping their input order both ways
		{"title", "bob,Alice,carol", "Alice,carol,bob"},
		{"nickName", "Alice,bob,carol", "Alice,bob,carol"},
		// numeric, not lexicographic: 3 < 10
		{"level", "Alice,bob,carol", "carol,bob,Alice"},
		{"score", "bob,Alice,carol", "carol,Alice,bob"},
		// chronological; carol's value does not parse and counts as missing
		{"hiredAt", "Alice,bob,carol", "carol,bob,Alice"},
		{"meta.created", "carol,Alice,bob", "bob,Alice,carol"},
		{"meta.lastModified", "bob,Alice,carol", "carol,Alice,bob"},
		// booleans: false < true
		{"active", "bob,Alice,carol", "carol,Alice,bob"},
		// multi-valued: the primary value, else the first
		{"emails.value", "Alice,bob,carol", "carol,bob,Alice"},
		{"emails.type", "Alice,bob,carol", "carol,Alice,bob"},
		{"emails", "Alice,bob,carol", "carol,bob,Alice"},
		{"name.familyName", "bob,Alice,carol", "carol,Alice,bob"},
	}
	for _, tc := range tests {
		t.Run(tc.by, func(t *testing.T) {
			assert.Equal(t, tc.asc, sorted(tc.by, false), "ascending")
			assert.Equal(t, tc.desc, sorted(tc.by, true), "descending")
		})
	}

	us := testUsers()
	alice, bob, carol := us[0], us[1], us[2]
	assert.Equal(t, -1, Compare(alice, bob, path("userName")))
	assert.Equal(t, 1, Compare(bob, alice, path("userName")))
	assert.Equal(t, 0, Compare(alice, alice, path("userName")))
	assert.Equal(t, -1, Compare(bob, alice, path("title")), "present before empty")
	assert.Equal(t, 1, Compare(carol, bob, path("title")), "missing after present")
	assert.Equal(t, 0, Compare(alice, carol, path("title")), "missing equals missing")
	assert.Equal(t, 1, Compare(nil, alice, path("userName")))
}

func TestSortPrimary(t *testing.T) {
	rt := testUserType(t)
	by, _, err := rt.resolve("emails.value", false)
	require.NoError(t, err)
	mk := func(name string, emails ...any) *Resource {
		return &Resource{Type: "User", ID: name, Attributes: map[string]any{"userName": name, "emails": emails}}
	}
	email := func(v string, primary bool) any { return map[string]any{"value": v, "primary": primary} }
	rs := []*Resource{
		mk("dave", email("zed@x", false), email("aaa@x", true)), // primary "aaa@x"
		mk("erin", email("b@x", false), email("0@x", false)),    // first "b@x"
		mk("fred", email("C@x", false)),
		mk("gina"),
		mk("hank", email("", true), email("a@x", false)), // primary has no value
	}
	SortResources(rs, by, false)
	assert.Equal(t, "dave,erin,fred,gina,hank", userNames(rs))
	SortResources(rs, by, true)
	assert.Equal(t, "gina,hank,fred,erin,dave", userNames(rs))

	// Stable: equal keys keep their order, ascending and descending.
	same := []*Resource{mk("p", email("X@x", true)), mk("q", email("x@x", true)), mk("r", email("x@X", true))}
	SortResources(same, by, false)
	assert.Equal(t, "p,q,r", userNames(same))
	SortResources(same, by, true)
	assert.Equal(t, "p,q,r", userNames(same))
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`,
		`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
		`emails[type eq "work" and value co "@example.com"] or not (active eq true)`,
		acmeURN + `:level gt 2 and hiredAt lt "2020-01-01T00:00:00Z"`,
		`meta.created gt 2015-10-10T14:38:21.8617979-07:00`,
		`score ge -1.5e3 and luckyNumbers eq 1e2`,
		`userName eq "\u00e9\"` + "\\",
		`((((userName pr))))`,
		`emails[type[value pr]]`,
		`not`,
		`"`,
		`urn:`,
	} {
		f.Add(s)
	}
	rt := testUserType(f)
	users := testUsers()
	f.Fuzz(func(t *testing.T, s string) {
		for _, strict := range []bool{true, false} {
			flt, err := rt.parseFilter(s, strict)
			if err != nil {
				var se *Error
				if !errors.As(err, &se) || se.Status != 400 || se.SCIMType != SCIMTypeInvalidFilter {
					t.Fatalf("parseFilter(%q, %v): error %#v is not a 400 invalidFilter *Error", s, strict, err)
				}
				if flt != nil {
					t.Fatalf("parseFilter(%q, %v): filter and error", s, strict)
				}
				continue
			}
			for _, u := range users {
				Matches(flt, u)
			}
		}
	})
}
