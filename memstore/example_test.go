package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/memstore"
)

func Example() {
	store := memstore.New()
	ctx := scim.WithPrincipal(context.Background(), scim.Principal{ID: "okta", Tenant: "acme"})
	now := time.Now().UTC()

	// The handler sets the id, the times and the unique keys, lowercasing
	// the case-insensitive userName.
	user, err := store.Create(ctx, &scim.Resource{
		Type:       "User",
		ID:         "2819c223",
		Attributes: map[string]any{"userName": "BJensen", "active": true},
		Meta:       scim.Meta{Created: now, LastModified: now},
		Unique:     []scim.UniqueKey{{Attribute: "userName", Value: "bjensen"}},
	})
	if err != nil {
		panic(err)
	}
	_, err = store.Create(ctx, &scim.Resource{
		Type: "Group",
		ID:   "e9e30dba",
		Attributes: map[string]any{
			"displayName": "Tour Guides",
			"members":     []any{map[string]any{"value": user.ID, "type": "User"}},
		},
		Meta: scim.Meta{Created: now, LastModified: now},
	})
	if err != nil {
		panic(err)
	}

	// Users carry the groups that hold them.
	user, _ = store.Get(ctx, "User", user.ID)
	fmt.Println(user.Attributes["groups"])

	// A second "bjensen" is refused.
	_, err = store.Create(ctx, &scim.Resource{
		Type:       "User",
		ID:         "other",
		Attributes: map[string]any{"userName": "bjensen"},
		Unique:     []scim.UniqueKey{{Attribute: "userName", Value: "bjensen"}},
	})
	fmt.Println(errors.Is(err, scim.ErrUniqueness))

	// userName eq "bjensen", answered from the userName index.
	page, err := store.Query(ctx, "User", scim.Query{
		Filter: &scim.CompareExpr{
			Path:  scim.AttrPath{Name: "userName", Type: scim.TypeString},
			Op:    scim.OpEqual,
			Value: "bjensen",
		},
		StartIndex: 1,
		Count:      10,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(page.TotalResults, page.Resources[0].Attributes["userName"])

	// Replacing with a stale version fails; deleting the user empties the group.
	_, err = store.Replace(ctx, user, "not-the-version")
	fmt.Println(errors.Is(err, scim.ErrVersionMismatch))
	_ = store.Delete(ctx, "User", user.ID, user.Meta.Version)
	group, _ := store.Get(ctx, "Group", "e9e30dba")
	members, _ := group.Attributes["members"].([]any)
	fmt.Println(len(members))

	// Output:
	// [map[display:Tour Guides type:direct value:e9e30dba]]
	// true
	// 1 BJensen
	// true
	// 0
}
