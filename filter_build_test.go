package scim_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/elimity-com/scim/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scimkit/scim"
)

type shade string

// TestExprText: what each builder writes.
func TestExprText(t *testing.T) {
	when := time.Date(2026, 3, 1, 9, 30, 0, 120000000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		expr scim.Expr
		want string
	}{
		{"eq string", scim.Eq("userName", "bjensen"), `userName eq "bjensen"`},
		{"ne", scim.Ne("title", "x"), `title ne "x"`},
		{"co", scim.Co("userName", "jen"), `userName co "jen"`},
		{"sw", scim.Sw("userName", "b"), `userName sw "b"`},
		{"ew", scim.Ew("emails.value", "@example.com"), `emails.value ew "@example.com"`},
		{"gt int", scim.Gt("x", 42), `x gt 42`},
		{"ge int64", scim.Ge("x", int64(-9007199254740993)), `x ge -9007199254740993`},
		{"lt uint", scim.Lt("x", uint64(math.MaxUint64)), `x lt 18446744073709551615`},
		{"le float", scim.Le("x", 1.5), `x le 1.5`},
		{"float exponent", scim.Eq("x", 1e21), `x eq 1e+21`},
		{"json.Number", scim.Eq("x", json.Number("12.50")), `x eq 12.50`},
		{"bool", scim.Eq("active", false), `active eq false`},
		{"null", scim.Eq("title", nil), `title eq null`},
		{"dateTime in UTC", scim.Gt("meta.lastModified", when), `meta.lastModified gt "2026-03-01T08:30:00.12Z"`},
		{"binary", scim.Eq("x509Certificates.value", []byte{0xde, 0xad, 0xbe, 0xef}), `x509Certificates.value eq "3q2+7w=="`},
		{"named string type", scim.Eq("title", shade("teal")), `title eq "teal"`},
		{"present", scim.Present("title"), `title pr`},
		{"URN path", scim.Eq("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "701984"),
			`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984"`},
		{"quotes and backslashes", scim.Eq("userName", `a"b\c`), `userName eq "a\"b\\c"`},
		{"control characters", scim.Eq("userName", "a\nb\tc\x00d\x7fe\u0085f\u2028g"), `userName eq "a\u000ab\u0009c\u0000d\u007fe\u0085f\u2028g"`},
		{"unicode stays", scim.Eq("userName", "Zoë 🐈 ſ"), `userName eq "Zoë 🐈 ſ"`},
		{"filter syntax inside a value", scim.Eq("userName", `x" or userName pr or "`), `userName eq "x\" or userName pr or \""`},
		{"and", scim.Eq("a", 1).And(scim.Eq("b", 2), scim.Eq("c", 3)), `a eq 1 and b eq 2 and c eq 3`},
		{"or", scim.Eq("a", 1).Or(scim.Eq("b", 2)), `a eq 1 or b eq 2`},
		{"or inside and", scim.Eq("a", 1).Or(scim.Eq("b", 2)).And(scim.Eq("c", 3)), `(a eq 1 or b eq 2) and c eq 3`},
		{"and inside or", scim.Eq("a", 1).And(scim.Eq("b", 2)).Or(scim.Eq("c", 3)), `a eq 1 and b eq 2 or c eq 3`},
		{"and of ors", scim.AllOf(scim.AnyOf(scim.Eq("a", 1), scim.Eq("b", 2)), scim.AnyOf(scim.Eq("c", 3), scim.Eq("d", 4))), `(a eq 1 or b eq 2) and (c eq 3 or d eq 4)`},
		{"not", scim.Not(scim.Eq("a", 1).Or(scim.Eq("b", 2))), `not (a eq 1 or b eq 2)`},
		{"value path", scim.ValuePath("emails", scim.Eq("type", "work").Or(scim.Present("primary"))), `emails[type eq "work" or primary pr]`},
		{"value path in and", scim.ValuePath("emails", scim.Eq("type", "work")).And(scim.Eq("userName", "x")), `emails[type eq "work"] and userName eq "x"`},
		{"zero", scim.Expr{}, ``},
		{"zero left out", scim.Expr{}.And(scim.Eq("a", 1), scim.Expr{}).Or(scim.Expr{}), `a eq 1`},
		{"AllOf of nothing", scim.AllOf(), ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.expr.Err())
			assert.Equal(t, tc.want, tc.expr.String())
		})
	}
}

// TestExprInvalid: what cannot be written is an error that every
// expression built from it carries, and its text parses nowhere.
func TestExprInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		expr scim.Expr
	}{
		{"empty path", scim.Eq("", "x")},
		{"space in path", scim.Eq("user name", "x")},
		{"digit first", scim.Eq("1st", "x")},
		{"two dots", scim.Eq("name.givenName.x", "x")},
		{"filter in path", scim.Eq(`userName eq "x" or userName`, "x")},
		{"present bad path", scim.Present("a b")},
		{"struct value", scim.Eq("x", struct{}{})},
		{"map value", scim.Eq("x", map[string]any{})},
		{"pointer value", scim.Eq("x", new(string))},
		{"NaN", scim.Eq("x", math.NaN())},
		{"Inf", scim.Gt("x", math.Inf(1))},
		{"bad json.Number", scim.Eq("x", json.Number("1e"))},
		{"invalid UTF-8", scim.Eq("userName", "a\xffb")},
		{"null with co", scim.Co("title", nil)},
		{"not of nothing", scim.Not(scim.Expr{})},
		{"value path of nothing", scim.ValuePath("emails", scim.Expr{})},
		{"value path with a sub-attribute", scim.ValuePath("emails.value", scim.Eq("type", "work"))},
		{"qualified path inside a value path", scim.ValuePath("emails", scim.Eq("emails.type", "work"))},
		{"nested value paths", scim.ValuePath("emails", scim.ValuePath("type", scim.Eq("x", 1)))},
		{"carried through and", scim.Eq("a", 1).And(scim.Eq("b", math.NaN()))},
		{"carried through or", scim.AnyOf(scim.Eq("a b", 1), scim.Eq("c", 1))},
		{"carried through not", scim.Not(scim.Eq("x", struct{}{}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.expr.Err(), scim.ErrInvalidExpr)
			assert.False(t, tc.expr.IsZero())
			_, err := tc.expr.Filter(scim.UserResourceType())
			assert.ErrorIs(t, err, scim.ErrInvalidExpr)
			_, err = scim.ParseFilter(scim.UserResourceType(), tc.expr.String())
			assert.Error(t, err, "the text of an invalid expression parses nowhere: %q", tc.expr.String())
		})
	}
}

// TestExprFilter: an expression parses to what its text means, against
// the resource type's schema: values round-trip exactly, precedence holds,
// and the schema's rules apply.
func TestExprFilter(t *testing.T) {
	users := scim.UserResourceType()
	for _, s := range []string{`plain`, `a"b\c`, "new\nline", "nul\x00", "del\x7f", "c1\u0085", "ls\u2028", "Zoë 🐈", `) or (userName pr`, ``} {
		f, err := scim.Eq("userName", s).Filter(users)
		require.NoError(t, err, "%q", s)
		c, ok := f.(*scim.CompareExpr)
		require.True(t, ok, "%T", f)
		assert.Equal(t, s, c.Value, "the value comes back as it was")
		assert.Equal(t, "userName", c.Path.Name)
		assert.True(t, scim.Matches(f, &scim.Resource{Type: "User", Attributes: map[string]any{"userName": s}}), "%q matches itself", s)
	}

	when := time.Date(2026, 3, 1, 9, 30, 0, 123456789, time.UTC)
	f, err := scim.Gt("meta.lastModified", when).Filter(users)
	require.NoError(t, err)
	assert.True(t, when.Equal(f.(*scim.CompareExpr).Value.(time.Time)), "dateTimes keep their nanoseconds")

	f, err = scim.Eq("userName", "a").Or(scim.Eq("userName", "b")).And(scim.Eq("active", true)).Filter(users)
	require.NoError(t, err)
	and, ok := f.(*scim.LogicalExpr)
	require.True(t, ok)
	assert.Equal(t, scim.And, and.Op, "the or stays inside the and")
	assert.IsType(t, &scim.LogicalExpr{}, and.Left)

	f, err = scim.ValuePath("emails", scim.Eq("type", "work")).Filter(users)
	require.NoError(t, err)
	assert.IsType(t, &scim.ValuePathExpr{}, f)

	f, err = scim.Expr{}.Filter(users)
	assert.NoError(t, err)
	assert.Nil(t, f, "the zero Expr is no filter")

	// The schema decides what the builder cannot know.
	for _, tc := range []struct {
		expr   scim.Expr
		detail string
	}{
		{scim.Eq("shoeSize", 42), `unknown attribute "shoeSize"`},
		{scim.Eq("active", "true"), `active`},
		{scim.Co("active", "t"), `applies to strings`},
		{scim.Eq("password", "hunter2"), `never returned`},
		{scim.ValuePath("userName", scim.Eq("x", 1)), `not a complex attribute`},
	} {
		_, err := tc.expr.Filter(users)
		var e *scim.Error
		require.ErrorAs(t, err, &e, "%s", tc.expr)
		assert.Equal(t, 400, e.Status)
		assert.Equal(t, scim.SCIMTypeInvalidFilter, e.SCIMType)
		assert.Contains(t, e.Detail, tc.detail)
	}

	// An extension of the type is known.
	ext := scim.UserResourceType()
	ext.Extensions = append(ext.Extensions, scim.SchemaExtension{Schema: schema.Schema{
		ID:         "urn:example:params:scim:schemas:extension:acme:2.0:User",
		Attributes: []schema.CoreAttribute{schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "costCenter"}))},
	}})
	expr := scim.Eq("urn:example:params:scim:schemas:extension:acme:2.0:User:costCenter", "CC-1")
	_, err = expr.Filter(users)
	assert.Error(t, err)
	f, err = expr.Filter(ext)
	require.NoError(t, err)
	assert.Equal(t, "urn:example:params:scim:schemas:extension:acme:2.0:User", f.(*scim.CompareExpr).Path.URN)
}

// FuzzExprRoundTrip: any UTF-8 string, as an eq value, parses back to
// itself as one comparison (nothing of it is read as filter syntax); any
// other string is refused, not changed.
func FuzzExprRoundTrip(f *testing.F) {
	for _, s := range []string{"", "bjensen", `"`, `\`, `") or userName pr or ("`, "\x00\x1f\x7f\u0085\u2028", "🐈", "]", "not (", "\xff"} {
		f.Add(s)
	}
	users := scim.UserResourceType()
	f.Fuzz(func(t *testing.T, s string) {
		expr := scim.Eq("userName", s)
		if !utf8.ValidString(s) {
			if !errors.Is(expr.Err(), scim.ErrInvalidExpr) {
				t.Fatalf("a string that is not UTF-8 must be refused: %q gave %q", s, expr)
			}
			return
		}
		if len(expr.String()) > scim.DefaultLimits().FilterBytes {
			return
		}
		got, err := expr.Filter(users)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if c, ok := got.(*scim.CompareExpr); !ok || c.Value != s || c.Op != scim.OpEqual {
			t.Fatalf("%s parsed to %#v", expr, got)
		}
	})
}
