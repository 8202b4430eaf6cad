package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

// ExampleEq builds a filter in Go, for a store's Query (a reconciler's)
// and as the text of a filter query parameter: values are escaped, paths
// checked, precedence kept.
func ExampleEq() {
	ctx := context.Background()
	store := memstore.New()
	for _, name := range []string{`ann "the boss"`, "bob"} {
		_, _ = store.Create(ctx, &scim.Resource{Type: "User", ID: name, Attributes: map[string]any{"userName": name, "active": true},
			Unique: []scim.UniqueKey{{Attribute: "userName", Value: scim.FoldCase(name)}}})
	}

	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expr := scim.Eq("userName", `Ann "the boss"`).Or(scim.Eq("userName", "carol")).
		And(scim.Eq("active", true), scim.Not(scim.Lt("meta.lastModified", since)))
	fmt.Println(expr)
	fmt.Println("?filter=" + url.QueryEscape(scim.Eq("userName", "bob").String()))

	filter, err := expr.Filter(scim.UserResourceType())
	if err != nil {
		fmt.Println(err)
		return
	}
	page, err := store.Query(ctx, "User", scim.Query{Filter: filter, StartIndex: 1, Count: 10})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, u := range page.Resources {
		fmt.Println(u.ID)
	}

	// A reconciler's batch: any of these ids, built up from nothing.
	var ids scim.Expr
	for _, id := range []string{"bob", "dave"} {
		ids = ids.Or(scim.Eq("id", id))
	}
	fmt.Println(ids)
	fmt.Println(scim.ValuePath("emails", scim.Eq("type", "work").And(scim.Ew("value", "@example.com"))))
	// Output:
	// (userName eq "Ann \"the boss\"" or userName eq "carol") and active eq true and not (meta.lastModified lt "2026-01-01T00:00:00Z")
	// ?filter=userName+eq+%22bob%22
	// ann "the boss"
	// id eq "bob" or id eq "dave"
	// emails[type eq "work" and value ew "@example.com"]
}

// ExampleParseFilter checks a filter's text against a resource type, for a
// store's Query.
func ExampleParseFilter() {
	f, err := scim.ParseFilter(scim.UserResourceType(), `emails[type eq "work"] and userName sw "b"`)
	fmt.Printf("%T %v\n", f, err)
	_, err = scim.ParseFilter(scim.UserResourceType(), `nickname eq "x"`) // names are case-insensitive: nickName
	fmt.Println(err)
	_, err = scim.ParseFilter(scim.UserResourceType(), `shoeSize gt 42`)
	var e *scim.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.SCIMType, e.Detail)
	}
	// Output:
	// *scim.LogicalExpr <nil>
	// <nil>
	// 400 invalidFilter invalid filter: unknown attribute "shoeSize" (at position 1)
}
