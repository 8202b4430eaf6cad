package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scimkit/scim"
)

var queryChecks = []check{
	{group: "Query", name: "EveryOperatorEveryType", run: filterCheck(catOperators,
		"every operator on every attribute type, core and extension, with operands as stored")},
	{group: "Query", name: "CaseRules", run: filterCheck(catCase,
		"strings compare case-insensitively unless the path is CaseExact (id, externalId, references, binary and the kit's code are; userName, emails and the rest are not)")},
	{group: "Query", name: "PresentAndNull", run: filterCheck(catPresence,
		`pr holds for a value that is not missing, null, "", [] or {}; "eq null" holds when the attribute is absent, "ne null" when it is present`)},
	{group: "Query", name: "SpecialValues", run: filterCheck(catSpecial,
		"operands are literal (% and _ are no wildcards), integers compare exactly beyond 2^53, decimals and integers compare numerically, dateTimes chronologically across zones")},
	{group: "Query", name: "SubSecondDateTimes", run: checkSubSecondDateTimes},
	{group: "Query", name: "ValuePaths", run: filterCheck(catValuePath,
		"attr[filter] holds when one value of attr satisfies the whole bracketed filter; conditions on different values do not combine")},
	{group: "Query", name: "LogicalOperators", run: filterCheck(catLogical,
		"and, or and not apply to the filter tree as parsed: not negates its whole operand, and nesting is kept")},
	{group: "Query", name: "MetaAndID", run: filterCheck(catMeta,
		"id, meta.created, meta.lastModified, meta.resourceType and meta.version are filterable and come from the resource's ID, Type and Meta")},
	{group: "Query", name: "GroupsAndMembers", run: filterCheck(catGroups,
		"Groups filter on displayName and members; Users filter on their computed groups")},
	{group: "Query", name: "RandomFilters", run: filterCheck(catRandom,
		"random nestings of and, or, not and value paths")},
	{group: "Query", name: "ProjectionHints", run: checkProjectionHints},
}

// population is the query checks' data as a correct store holds it: the
// resources the kit created, with the versions the store assigned and the
// Users' computed "groups". It is the reference the store's answers are
// compared with, built by the kit rather than read back, so that a query
// check fails for a wrong Query and not for a wrong Get.
type population struct {
	users, groups []*scim.Resource
}

// loadPopulation creates the kit's population in s.
func loadPopulation(t testing.TB, s scim.Store, ctx context.Context) population {
	t.Helper()
	var p population
	byID := map[string]*scim.Resource{}
	for _, r := range Population(populationSeed, populationSize) {
		ref := r.Clone()
		ref.Meta.Version = mustCreate(t, s, ctx, r).Meta.Version
		if r.Type == userType {
			p.users = append(p.users, ref)
			byID[r.ID] = ref
		} else {
			p.groups = append(p.groups, ref)
		}
	}
	for _, g := range p.groups {
		for _, id := range memberIDs(g) {
			if u := byID[id]; u != nil {
				v := map[string]any{"value": g.ID, "type": "direct"}
				if name, ok := g.Attributes["displayName"].(string); ok {
					v["display"] = name
				}
				list, _ := u.Attributes["groups"].([]any)
				u.Attributes["groups"] = append(list, v)
			}
		}
	}
	return p
}

func (p population) of(typ string) []*scim.Resource {
	if typ == groupType {
		return p.groups
	}
	return p.users
}

// maxReported is the number of wrong answers a check describes in full.
const maxReported = 6

// filterCheck returns a check that asks the store every filter of a
// category and compares its answers with scim.Matches over the population
// as the store holds it.
func filterCheck(category, rule string) func(t testing.TB, s scim.Store) {
	return func(t testing.TB, s scim.Store) {
		ctx := ctxA()
		pop := loadPopulation(t, s, ctx)
		cases := filterCases(pop.users, pop.groups, populationSeed, category)
		if len(cases) == 0 {
			t.Fatalf("the kit generated no filters for %s", category)
		}
		wrong := 0
		for i, fc := range cases {
			// Every other query carries the projection hint attributes=id,
			// as the handler passes a client's projection: a store may then
			// return less, but must still filter on every attribute.
			if msg := compareWithReference(s, ctx, fc, pop.of(fc.typ), i%2 == 1); msg != "" {
				wrong++
				if wrong <= maxReported {
					t.Errorf("%s\n\tthe rule: %s", msg, rule)
				}
			}
		}
		if wrong > maxReported {
			t.Errorf("… and %d more of the %d filters of this check were answered differently from scim.Matches", wrong-maxReported, len(cases))
		}
	}
}

// compareWithReference asks one filter, with the projection hint
// attributes=id if hint is set, and describes how the answer differs from
// the reference evaluator's; "" when it does not.
func compareWithReference(s scim.Store, ctx context.Context, fc filterCase, ref []*scim.Resource, hint bool) string {
	var want []string
	byID := map[string]*scim.Resource{}
	for _, r := range ref {
		byID[r.ID] = r
		if scim.Matches(fc.f, r) {
			want = append(want, r.ID)
		}
	}
	q := scim.Query{Filter: fc.f, StartIndex: 1, Count: allCount}
	with := ""
	if hint {
		q.Attributes = []scim.AttrPath{pID}
		with = " (and the projection hint attributes=id)"
	}
	page, err := s.Query(ctx, fc.typ, q)
	head := fmt.Sprintf("Query %s with filter %s%s must return the %d of %d resources scim.Matches accepts", fc.typ, formatFilter(fc.f), with, len(want), len(ref))
	if err != nil {
		return fmt.Sprintf("%s; the store returned error %s", head, errText(err))
	}
	if page == nil {
		return head + "; the store returned a nil page"
	}
	got := ids(page.Resources)
	missing, extra, dups := setDiff(want, got)
	var b strings.Builder
	if len(missing) > 0 || len(extra) > 0 || len(dups) > 0 {
		fmt.Fprintf(&b, "%s; the store returned %d", head, len(got))
		if len(missing) > 0 {
			fmt.Fprintf(&b, "\n\tmissing (they match): %s", listIDs(missing))
			fmt.Fprintf(&b, "\n\t\tfor example %s", relevantValues(byID[missing[0]], fc.f))
		}
		if len(extra) > 0 {
			fmt.Fprintf(&b, "\n\treturned but not matching: %s", listIDs(extra))
			if r := byID[extra[0]]; r != nil {
				fmt.Fprintf(&b, "\n\t\tfor example %s", relevantValues(r, fc.f))
			}
		}
		if len(dups) > 0 {
			fmt.Fprintf(&b, "\n\treturned more than once: %s", listIDs(dups))
		}
	}
	if page.TotalResults != len(want) {
		if b.Len() == 0 {
			b.WriteString(head)
			b.WriteString("; the resources are right, but")
		} else {
			b.WriteString("\n\tand")
		}
		fmt.Fprintf(&b, " totalResults is %d, not %d", page.TotalResults, len(want))
	}
	return b.String()
}

// setDiff compares the ids a store returned with the ones it should have.
func setDiff(want, got []string) (missing, extra, dups []string) {
	w := map[string]bool{}
	for _, id := range want {
		w[id] = true
	}
	seen := map[string]bool{}
	for _, id := range got {
		switch {
		case seen[id]:
			dups = append(dups, id)
		case !w[id]:
			extra = append(extra, id)
		}
		seen[id] = true
	}
	for _, id := range want {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	return missing, extra, dups
}

// relevantValues shows the values r holds for the attributes f looks at.
func relevantValues(r *scim.Resource, f scim.Filter) string {
	if r == nil {
		return "(unknown resource)"
	}
	var parts []string
	seen := map[string]bool{}
	var walk func(scim.Filter)
	walk = func(f scim.Filter) {
		var p scim.AttrPath
		switch f := f.(type) {
		case *scim.LogicalExpr:
			walk(f.Left)
			walk(f.Right)
			return
		case *scim.NotExpr:
			walk(f.X)
			return
		case *scim.ValuePathExpr:
			p = f.Path
		case *scim.CompareExpr:
			p = f.Path
		default:
			return
		}
		top := p
		top.Sub = ""
		if p.URN == "" && p.Name == "meta" {
			top = p
		}
		k := top.String()
		if seen[k] {
			return
		}
		seen[k] = true
		var v any
		if top.URN == "" && (top.Name == "id" || top.Name == "meta") {
			l := leaves(r, top)
			if len(l) > 0 {
				v = l[0]
			}
		} else {
			attrs := r.Attributes
			if top.URN != "" {
				attrs, _ = r.Attributes[top.URN].(map[string]any)
			}
			var ok bool
			if v, ok = attrs[top.Name]; !ok {
				parts = append(parts, k+" absent")
				return
			}
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		parts = append(parts, k+"="+string(b))
	}
	walk(f)
	return fmt.Sprintf("%q holds %s", r.ID, strings.Join(parts, ", "))
}

func checkProjectionHints(t testing.TB, s scim.Store) {
	ctx := ctxA()
	u := everyTypeUser("Projection-1")
	mustCreate(t, s, ctx, u)
	for _, q := range []scim.Query{
		{Attributes: []scim.AttrPath{pUserName, pEmailValue, pLevel}},
		{ExcludedAttributes: []scim.AttrPath{pEmails, pName, pManager}},
	} {
		q.StartIndex, q.Count = 1, 10
		page := mustQuery(t, s, ctx, userType, q)
		if len(page.Resources) != 1 || page.Resources[0] == nil {
			t.Errorf("projection hints must not change which resources a query returns: want %q; the store returned %s", u.ID, listIDs(ids(page.Resources)))
			continue
		}
		r := page.Resources[0]
		if r.ID != u.ID {
			t.Errorf("a query must return each resource's ID, whatever the projection; the store returned %q", r.ID)
		}
		var keep []scim.AttrPath
		if len(q.Attributes) > 0 {
			keep = q.Attributes
		} else {
			keep = []scim.AttrPath{pUserName, pExternalID, pTitle, pX509Value, pLevel, pHiredAt, pTags, pDepartment}
		}
		for _, p := range keep {
			if diffs := diffValues(p.String(), leaves(u, p), leaves(r, p)); len(diffs) > 0 {
				t.Errorf("projection hints let a store leave out what is not asked for, never more: with %s the store must return %s; it differs: %s",
					describeProjection(q), p, strings.Join(diffs, "; "))
			}
		}
		if r.Meta.Version == "" || r.Meta.Created.IsZero() {
			t.Errorf("a query must return each resource's Meta whatever the projection; the store returned %+v", r.Meta)
		}
	}
}

func describeProjection(q scim.Query) string {
	var names []string
	list, what := q.Attributes, "attributes"
	if len(list) == 0 {
		list, what = q.ExcludedAttributes, "excludedAttributes"
	}
	for _, p := range list {
		names = append(names, p.String())
	}
	return what + " " + strings.Join(names, ",")
}

// preciseTimes are the instants of checkSubSecondDateTimes, each with
// hiredAt written as a client might: in another zone, with more or fewer
// digits. They lie within a millisecond or a second of each other, so
// that a store comparing at a coarser precision than the microseconds the
// kit hands it answers some of its filters wrongly.
var preciseTimes = []struct {
	id      string
	at      string // meta.created and meta.lastModified
	hiredAt string // the same instant as stored text; "" for none
}{
	{"Precise-A", "2024-03-10T10:00:00Z", "2024-03-10T10:00:00Z"},
	{"Precise-B", "2024-03-10T09:59:59.9995Z", "2024-03-10T11:59:59.9995+02:00"},
	{"Precise-C", "2024-03-10T09:59:59.999Z", "2024-03-10T09:59:59.999Z"},
	{"Precise-D", "2024-03-10T09:59:59Z", "2024-03-10T04:59:59.000-05:00"},
	{"Precise-E", "2024-03-10T10:00:00.000001Z", "2024-03-10T15:30:00.000001+05:30"},
	{"Precise-F", "2024-03-10T09:59:58.9999Z", "2024-03-10T09:59:58.999900Z"},
	{"Precise-N", "2024-03-10T10:00:01Z", ""}, // no hiredAt: only ne holds
}

// checkSubSecondDateTimes filters on dateTimes whose instants differ by
// less than a second, and by less than a millisecond: meta.lastModified
// and meta.created (the Meta times the kit hands over, to the microsecond)
// and the kit's dateTime attribute hiredAt (strings, in several zones).
// Every operator must compare the whole instant; the answers are the
// kit's own, from comparing the instants, not scim.Matches'.
func checkSubSecondDateTimes(t testing.TB, s scim.Store) {
	ctx := ctxA()
	at := func(v string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			panic(err)
		}
		return tm
	}
	hired := map[string]time.Time{}
	when := map[string]time.Time{}
	for _, p := range preciseTimes {
		u := newUser(p.id, strings.ToLower(p.id), at(p.at), nil)
		if p.hiredAt != "" {
			u.Attributes[extURN] = map[string]any{"hiredAt": p.hiredAt}
			hired[p.id] = at(p.hiredAt)
		}
		when[p.id] = at(p.at)
		c := mustCreate(t, s, ctx, u)
		if !c.Meta.LastModified.Equal(u.Meta.LastModified) {
			t.Fatalf("Create must keep Meta.LastModified as the handler set it, to the microsecond (%s); the store returned %s",
				u.Meta.LastModified.Format(time.RFC3339Nano), c.Meta.LastModified.Format(time.RFC3339Nano))
		}
	}

	ms999 := at("2024-03-10T09:59:59.999Z")
	operands := []struct {
		v   time.Time
		ops []scim.CompareOp
	}{
		{ms999, []scim.CompareOp{scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual, scim.OpEqual, scim.OpNotEqual}},
		{ms999.In(time.FixedZone("", 5*3600+1800)), []scim.CompareOp{scim.OpGreater, scim.OpEqual, scim.OpLessOrEqual}},
		{at("2024-03-10T09:59:59.9995Z"), []scim.CompareOp{scim.OpEqual, scim.OpNotEqual, scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual}},
		{at("2024-03-10T10:00:00Z"), []scim.CompareOp{scim.OpEqual, scim.OpNotEqual, scim.OpGreater, scim.OpGreaterOrEqual, scim.OpLess, scim.OpLessOrEqual}},
		{at("2024-03-10T09:59:59Z"), []scim.CompareOp{scim.OpEqual, scim.OpGreater, scim.OpLess}},
		{at("2024-03-10T09:59:58.9999Z"), []scim.CompareOp{scim.OpEqual, scim.OpGreater}},
		// Operands finer than the microseconds a store keeps Meta times in:
		// rounded or cut to microseconds they would answer otherwise.
		{at("2024-03-10T09:59:59.999500001Z"), []scim.CompareOp{scim.OpLess, scim.OpGreaterOrEqual, scim.OpEqual, scim.OpNotEqual}},
		{at("2024-03-10T09:59:59.999499999Z"), []scim.CompareOp{scim.OpGreater, scim.OpLessOrEqual}},
	}
	wrong := 0
	for _, path := range []scim.AttrPath{pMetaLastModified, pMetaCreated, pHiredAt} {
		values := when
		if path == pHiredAt {
			values = hired
		}
		for _, o := range operands {
			for _, op := range o.ops {
				f := cmp(path, op, o.v)
				var want []string
				for _, p := range preciseTimes {
					x, ok := values[p.id]
					if holdsAt(op, x, ok, o.v) {
						want = append(want, p.id)
					}
				}
				page := queryAll(t, s, ctx, userType, f)
				missing, extra, dups := setDiff(want, ids(page.Resources))
				if len(missing)+len(extra)+len(dups) == 0 && page.TotalResults == len(want) {
					continue
				}
				if wrong++; wrong > maxReported {
					continue
				}
				msg := fmt.Sprintf("Query User with filter %s must return %s (totalResults %d); the store returned %s (totalResults %d)",
					formatFilter(f), listIDs(want), len(want), listIDs(ids(page.Resources)), page.TotalResults)
				for _, id := range append(missing, extra...) {
					v := "no " + path.String()
					if x, ok := values[id]; ok {
						v = path.String() + " " + x.UTC().Format(time.RFC3339Nano)
					}
					msg += fmt.Sprintf("\n\t%q holds %s", id, v)
				}
				t.Errorf("%s\n\tthe rule: dateTimes compare as instants at their full precision: the fraction of a second counts to the last digit, in every zone", msg)
			}
		}
	}
	if wrong > maxReported {
		t.Errorf("… and %d more dateTime filters were answered wrongly", wrong-maxReported)
	}
}

// holdsAt reports whether the comparison x op v holds for a resource
// whose value is x (present says whether it has one): a missing value is
// "ne" anything and nothing else.
func holdsAt(op scim.CompareOp, x time.Time, present bool, v time.Time) bool {
	if !present {
		return op == scim.OpNotEqual
	}
	switch c := x.Compare(v); op {
	case scim.OpEqual:
		return c == 0
	case scim.OpNotEqual:
		return c != 0
	case scim.OpGreater:
		return c > 0
	case scim.OpGreaterOrEqual:
		return c >= 0
	case scim.OpLess:
		return c < 0
	case scim.OpLessOrEqual:
		return c <= 0
	}
	return false
}
