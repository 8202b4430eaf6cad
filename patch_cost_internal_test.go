package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// costFixture is a user type with the given limits, a user holding n
// emails and a PATCH body of ops operations made by op(i).
func costFixture(t *testing.T, l Limits, n, ops int, op func(i int) string) (*resourceType, map[string]any, []patchOp) {
	t.Helper()
	rt, err := compileResourceType(UserResourceType())
	require.NoError(t, err)
	rt.limits = l
	emails := make([]any, n)
	for i := range emails {
		emails[i] = map[string]any{"value": fmt.Sprintf("e%d@example.com", i), "type": "work"}
	}
	list := make([]string, ops)
	for i := range list {
		list[i] = op(i)
	}
	h := &Handler{limits: l}
	body := `{"Operations":[` + strings.Join(list, ",") + `]}`
	parsed, err := h.parsePatch(&request{r: httptest.NewRequest(http.MethodPatch, "/Users/u", strings.NewReader(body))}, rt)
	require.NoError(t, err)
	return rt, map[string]any{"userName": "u", "emails": emails}, parsed
}

// TestPatchStopsWhenTheRequestEnds: a cancelled request applies nothing more.
func TestPatchStopsWhenTheRequestEnds(t *testing.T) {
	rt, attrs, ops := costFixture(t, DefaultLimits(), 10, 5, func(i int) string {
		return fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"n%d@example.com"}]}`, i)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := rt.applyPatch(ctx, decoder{rt: rt}, "u", attrs, ops)
	assert.True(t, errors.Is(err, context.Canceled), "%v", err)
	assert.Len(t, attrs["emails"], 10)
}

// TestFilteredPatchScanBudget: filtered operations, which examine every
// value of their attribute, may examine scanBudget values per request in
// all; beyond, the PATCH is 400 tooMany.
func TestFilteredPatchScanBudget(t *testing.T) {
	const values = 2000
	filtered := func(i int) string {
		return fmt.Sprintf(`{"op":"replace","path":"emails[value eq \"e%d@example.com\"].display","value":"d"}`, i)
	}
	rt, attrs, ops := costFixture(t, DefaultLimits(), values, scanBudget/values, filtered)
	require.NoError(t, rt.applyPatch(context.Background(), decoder{rt: rt}, "u", attrs, ops), "at the budget")

	rt, attrs, ops = costFixture(t, DefaultLimits(), values, scanBudget/values+1, filtered)
	err := rt.applyPatch(context.Background(), decoder{rt: rt}, "u", attrs, ops)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, SCIMTypeTooMany, e.SCIMType)
	assert.Equal(t, 400, e.Status)
}

// TestMemberRemovesUseTheIndex: removing members by id (Okta's
// members[value eq "id"]) does not scan, so it is not charged to the budget.
func TestMemberRemovesUseTheIndex(t *testing.T) {
	rt, err := compileResourceType(GroupResourceType())
	require.NoError(t, err)
	members := make([]any, 2000)
	ops := make([]string, 1000) // scanning would examine 1,500,000 values, over the budget
	for i := range members {
		members[i] = map[string]any{"value": fmt.Sprintf("m%d", i)}
	}
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"op":"remove","path":"members[value eq \"m%d\"]"}`, 1000+i)
	}
	h := &Handler{limits: rt.limits}
	body := `{"Operations":[` + strings.Join(ops, ",") + `]}`
	parsed, err := h.parsePatch(&request{r: httptest.NewRequest(http.MethodPatch, "/Groups/g", strings.NewReader(body))}, rt)
	require.NoError(t, err)
	attrs := map[string]any{"displayName": "g", "members": members}
	require.NoError(t, rt.applyPatch(context.Background(), decoder{rt: rt}, "g", attrs, parsed))
	assert.Len(t, attrs["members"], 1000)
}

// TestImmutableMultiValuedAddThroughTheIndex: an add to an immutable
// multi-valued attribute that holds values is refused, although adds go
// through the attribute's index.
func TestImmutableMultiValuedAddThroughTheIndex(t *testing.T) {
	const urn = "urn:example:params:scim:schemas:extension:badges:2.0:User"
	ut := UserResourceType()
	ut.Extensions = append(ut.Extensions, SchemaExtension{Schema: schema.Schema{
		ID: urn, Name: optional.NewString("Badges"),
		Attributes: []schema.CoreAttribute{schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
			Name: "badges", MultiValued: true, Mutability: schema.AttributeMutabilityImmutable(),
		}))},
	}})
	rt, err := compileResourceType(ut)
	require.NoError(t, err)
	h := &Handler{limits: DefaultLimits()}
	for _, tc := range []struct {
		start []any
		fails bool
	}{{nil, false}, {[]any{"b1"}, true}} {
		body := `{"Operations":[{"op":"add","path":"` + urn + `:badges","value":["b2"]}]}`
		ops, err := h.parsePatch(&request{r: httptest.NewRequest(http.MethodPatch, "/Users/u", strings.NewReader(body))}, rt)
		require.NoError(t, err)
		attrs := map[string]any{"userName": "u"}
		if tc.start != nil {
			attrs[urn] = map[string]any{"badges": tc.start}
		}
		err = rt.applyPatch(context.Background(), decoder{rt: rt}, "u", attrs, ops)
		if !tc.fails {
			require.NoError(t, err)
			assert.Equal(t, []any{"b2"}, attrs[urn].(map[string]any)["badges"])
			continue
		}
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, SCIMTypeMutability, e.SCIMType)
	}
}

// TestIndexedAddMergesStoredDuplicates: a list stored with a value twice
// (written before duplicates were merged) comes out of any PATCH without
// it, also when the PATCH only adds through the index.
func TestIndexedAddMergesStoredDuplicates(t *testing.T) {
	rt, attrs, ops := costFixture(t, DefaultLimits(), 3, 1, func(int) string {
		return `{"op":"add","path":"emails","value":[{"value":"new@example.com"}]}`
	})
	attrs["emails"] = append(attrs["emails"].([]any), map[string]any{"value": "E0@example.com", "type": "work", "display": "dup"})
	require.NoError(t, rt.applyPatch(context.Background(), decoder{rt: rt}, "u", attrs, ops))
	emails := attrs["emails"].([]any)
	require.Len(t, emails, 4)
	assert.Equal(t, map[string]any{"value": "E0@example.com", "type": "work", "display": "dup"}, emails[0], "merged in place, the later sub-attributes win")
}
