package storetest

import (
	"math/rand"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/scimkit/scim"
)

// filterCase is one filter the query checks ask a store, over a type.
type filterCase struct {
	typ string
	f   scim.Filter
}

// The categories of filters, one query check each.
const (
	catOperators = "operators"  // every operator on every type, operands as stored
	catCase      = "case"       // operands in another case than stored
	catPresence  = "presence"   // pr, eq null, ne null
	catSpecial   = "special"    // LIKE metacharacters, big numbers, zones
	catValuePath = "valuePaths" // attr[filter]
	catLogical   = "logical"    // and, or, not and their nesting
	catMeta      = "meta"       // id and meta.*
	catGroups    = "groups"     // Group resources, and Users by their groups
	catRandom    = "random"     // random trees of all of the above
)

// userFilterPaths are the User attributes the kit filters on, but id,
// meta.* and groups, which have categories of their own.
var userFilterPaths = []scim.AttrPath{
	pExternalID, pUserName, pDisplayName, pNickName, pTitle, pActive, pProfileURL,
	pGivenName, pFamilyName, pEmailValue, pEmailType, pEmailPrimary, pPhoneValue,
	pPhoneType, pX509Value, pPhotoValue, pPhotoType,
	pEmployeeNumber, pDepartment, pManagerValue,
	pLevel, pScore, pHiredAt, pVIP, pBadge, pHomepage, pTags, pCode,
}

var (
	metaPaths        = []scim.AttrPath{pID, pMetaCreated, pMetaLastModified, pMetaResourceType, pMetaVersion}
	userGroupPaths   = []scim.AttrPath{pGroupsValue, pGroupsDisplay}
	groupFilterPaths = []scim.AttrPath{pDisplayName, pExternalID, pMembersValue, pMembersType, pMembersDisplay, pID, pMetaCreated, pMetaVersion}
	complexUserPaths = []scim.AttrPath{pName, pEmails, pPhones, pX509, pGroups, pManager}
)

// filterCases generates the filters of a category over users and groups
// as the store holds them (their versions are the store's). The same
// resources and seed give the same filters.
func filterCases(users, groups []*scim.Resource, seed int64, category string) []filterCase {
	rng := rand.New(rand.NewSource(seed))
	out := map[string][]filterCase{}
	add := func(cat, typ string, fs ...scim.Filter) {
		for _, f := range fs {
			out[cat] = append(out[cat], filterCase{typ: typ, f: f})
		}
	}
	var pool []scim.Filter // atoms for combinations
	for _, p := range userFilterPaths {
		plain, swapped := atoms(rng, p, operands(users, p))
		add(catOperators, userType, plain...)
		add(catCase, userType, swapped...)
		add(catPresence, userType, presence(p)...)
		pool = append(pool, plain...)
	}
	for _, p := range complexUserPaths {
		add(catPresence, userType, &scim.CompareExpr{Path: p, Op: scim.OpPresent})
	}
	for _, p := range metaPaths {
		plain, swapped := atoms(rng, p, operands(users, p))
		add(catMeta, userType, plain...)
		add(catMeta, userType, swapped...)
		add(catMeta, userType, presence(p)...)
		pool = append(pool, plain...)
	}
	for _, p := range userGroupPaths {
		plain, swapped := atoms(rng, p, operands(users, p))
		add(catGroups, userType, plain...)
		add(catGroups, userType, swapped...)
		add(catGroups, userType, presence(p)...)
	}
	for _, p := range groupFilterPaths {
		plain, swapped := atoms(rng, p, operands(groups, p))
		add(catGroups, groupType, plain...)
		add(catGroups, groupType, swapped...)
		add(catGroups, groupType, presence(p)...)
	}
	add(catGroups, groupType, &scim.CompareExpr{Path: pMembers, Op: scim.OpPresent})
	add(catGroups, groupType, handGroupFilters()...)
	add(catGroups, userType, handUserGroupFilters()...)
	add(catCase, userType, handCaseFilters()...)
	add(catSpecial, userType, handSpecialFilters()...)

	vps := append(handValuePaths(), genValuePaths(rng, users)...)
	add(catValuePath, userType, vps...)

	if category == catLogical || category == catRandom { // the costly part
		mid := selective(pool, users)
		add(catLogical, userType, handLogical()...)
		add(catLogical, userType, genLogical(rng, mid)...)
		add(catRandom, userType, genRandom(rng, append(mid, vps...))...)
	}
	return out[category]
}

// operands lists the values resources hold for p, converted to the kind a
// parsed filter compares with p (string, bool, int64, float64 or
// time.Time), without repeats, in the order first met.
func operands(rs []*scim.Resource, p scim.AttrPath) []any {
	var out []any
	seen := map[string]bool{}
	for _, r := range rs {
		for _, v := range leaves(r, p) {
			op, ok := operand(v, p.Type)
			if !ok {
				continue
			}
			k := formatOperand(op)
			if !seen[k] {
				seen[k] = true
				out = append(out, op)
			}
		}
	}
	return out
}

// leaves returns the values p addresses in r, lists flattened.
func leaves(r *scim.Resource, p scim.AttrPath) []any {
	if p.URN == "" {
		switch {
		case p.Name == "id":
			return []any{r.ID}
		case p.Name == "meta" && p.Sub == "created":
			return []any{r.Meta.Created}
		case p.Name == "meta" && p.Sub == "lastModified":
			return []any{r.Meta.LastModified}
		case p.Name == "meta" && p.Sub == "version":
			return []any{r.Meta.Version}
		case p.Name == "meta" && p.Sub == "resourceType":
			return []any{r.Type}
		}
	}
	attrs := r.Attributes
	if p.URN != "" {
		attrs, _ = r.Attributes[p.URN].(map[string]any)
	}
	top := attrs[p.Name]
	if p.Sub == "" {
		return flat(nil, top)
	}
	var out []any
	switch t := top.(type) {
	case map[string]any:
		out = flat(out, t[p.Sub])
	case []any:
		for _, e := range t {
			if m, ok := e.(map[string]any); ok {
				out = flat(out, m[p.Sub])
			}
		}
	}
	return out
}

func flat(out []any, v any) []any {
	if l, ok := v.([]any); ok {
		for _, e := range l {
			out = flat(out, e)
		}
		return out
	}
	if v != nil {
		out = append(out, v)
	}
	return out
}

// operand converts a stored value to a filter operand of type typ.
func operand(v any, typ scim.AttrType) (any, bool) {
	switch typ {
	case scim.TypeString, scim.TypeReference, scim.TypeBinary:
		s, ok := v.(string)
		return s, ok && s != ""
	case scim.TypeBoolean:
		b, ok := v.(bool)
		return b, ok
	case scim.TypeInteger:
		i, ok := v.(int64)
		return i, ok
	case scim.TypeDecimal:
		switch n := v.(type) {
		case float64:
			return n, true
		case int64:
			return float64(n), true
		}
	case scim.TypeDateTime:
		switch t := v.(type) {
		case time.Time:
			return t, !t.IsZero()
		case string:
			tt, err := time.Parse(time.RFC3339Nano, t)
			return tt, err == nil
		}
	}
	return nil, false
}

func cmp(p scim.AttrPath, op scim.CompareOp, v any) scim.Filter {
	return &scim.CompareExpr{Path: p, Op: op, Value: v}
}

// presence returns pr, eq null and ne null on p.
func presence(p scim.AttrPath) []scim.Filter {
	return []scim.Filter{cmp(p, scim.OpPresent, nil), cmp(p, scim.OpEqual, nil), cmp(p, scim.OpNotEqual, nil)}
}

// atoms returns comparisons of p with every operator its type allows:
// plain ones with operands as stored, and swapped ones whose string
// operands are in another case.
func atoms(rng *rand.Rand, p scim.AttrPath, vals []any) (plain, swapped []scim.Filter) {
	if len(vals) == 0 {
		return nil, nil
	}
	some := func() any { return vals[rng.Intn(len(vals))] }
	switch p.Type {
	case scim.TypeString, scim.TypeReference, scim.TypeBinary:
		str := func() string { return some().(string) }
		plain = append(plain,
			cmp(p, scim.OpEqual, str()), cmp(p, scim.OpEqual, "no-such-välue"),
			cmp(p, scim.OpNotEqual, str()), cmp(p, scim.OpContains, middle(rng, str())),
			cmp(p, scim.OpStartsWith, prefix(rng, str())), cmp(p, scim.OpEndsWith, suffix(rng, str())),
		)
		swapped = append(swapped,
			cmp(p, scim.OpEqual, swapCase(str())), cmp(p, scim.OpNotEqual, swapCase(str())),
			cmp(p, scim.OpContains, swapCase(middle(rng, str()))),
			cmp(p, scim.OpStartsWith, swapCase(prefix(rng, str()))),
			cmp(p, scim.OpEndsWith, swapCase(suffix(rng, str()))),
		)
		if p.Type != scim.TypeBinary {
			plain = append(plain,
				cmp(p, scim.OpGreater, str()), cmp(p, scim.OpGreaterOrEqual, str()),
				cmp(p, scim.OpLess, str()), cmp(p, scim.OpLessOrEqual, str()))
			swapped = append(swapped, cmp(p, scim.OpGreater, swapCase(str())), cmp(p, scim.OpLessOrEqual, swapCase(str())))
		}
	case scim.TypeBoolean:
		plain = append(plain, cmp(p, scim.OpEqual, true), cmp(p, scim.OpEqual, false), cmp(p, scim.OpNotEqual, true), cmp(p, scim.OpNotEqual, false))
	case scim.TypeInteger, scim.TypeDecimal, scim.TypeDateTime:
		for i := 0; i < 2; i++ {
			v := some()
			if t, ok := v.(time.Time); ok { // the same instant, written in another zone
				v = t.In(zones[(i+3)%len(zones)])
			}
			plain = append(plain, cmp(p, scim.OpEqual, v), cmp(p, scim.OpNotEqual, v), cmp(p, scim.OpGreater, v),
				cmp(p, scim.OpGreaterOrEqual, v), cmp(p, scim.OpLess, v), cmp(p, scim.OpLessOrEqual, v))
		}
	}
	return plain, swapped
}

// middle, prefix and suffix cut a part of 1 to 4 runes out of s.
func middle(rng *rand.Rand, s string) string {
	r := []rune(s)
	n := 1 + rng.Intn(min(4, len(r)))
	i := rng.Intn(len(r) - n + 1)
	return string(r[i : i+n])
}

func prefix(rng *rand.Rand, s string) string {
	r := []rune(s)
	return string(r[:1+rng.Intn(min(4, len(r)))])
}

func suffix(rng *rand.Rand, s string) string {
	r := []rune(s)
	return string(r[len(r)-1-rng.Intn(min(4, len(r))):])
}

// swapCase turns upper case into lower case and back.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, s)
}

// selective returns the filters that match some but not most of rs, for
// combining: an and or or of them tells a wrong nesting from the right one.
func selective(fs []scim.Filter, rs []*scim.Resource) []scim.Filter {
	var out []scim.Filter
	for _, f := range fs {
		n := 0
		for _, r := range rs {
			if scim.Matches(f, r) {
				n++
			}
		}
		if n*20 >= len(rs) && n*20 <= 17*len(rs) {
			out = append(out, f)
		}
	}
	return out
}

func and(a, b scim.Filter) scim.Filter { return &scim.LogicalExpr{Op: scim.And, Left: a, Right: b} }
func or(a, b scim.Filter) scim.Filter  { return &scim.LogicalExpr{Op: scim.Or, Left: a, Right: b} }
func not(a scim.Filter) scim.Filter    { return &scim.NotExpr{X: a} }

// genLogical nests triples of selective filters every way that tells
// precedence and negation apart: a or (b and c) against (a or b) and c,
// not (a or b) against not a or b, and so on.
func genLogical(rng *rand.Rand, pool []scim.Filter) []scim.Filter {
	if len(pool) < 3 {
		return nil
	}
	var out []scim.Filter
	for i := 0; i < 8; i++ {
		a, b, c := pool[rng.Intn(len(pool))], pool[rng.Intn(len(pool))], pool[rng.Intn(len(pool))]
		out = append(out,
			or(a, and(b, c)), and(or(a, b), c), and(a, or(b, c)), or(and(a, b), c),
			not(or(a, b)), or(not(a), b), and(not(a), not(b)), not(and(a, not(b))),
			not(not(a)), and(not(or(a, b)), not(c)),
		)
	}
	return out
}

func genRandom(rng *rand.Rand, pool []scim.Filter) []scim.Filter {
	if len(pool) == 0 {
		return nil
	}
	var tree func(depth int) scim.Filter
	tree = func(depth int) scim.Filter {
		if depth == 0 || rng.Intn(4) == 0 {
			return pool[rng.Intn(len(pool))]
		}
		switch rng.Intn(5) {
		case 0:
			return not(tree(depth - 1))
		case 1, 2:
			return and(tree(depth-1), tree(depth-1))
		default:
			return or(tree(depth-1), tree(depth-1))
		}
	}
	out := make([]scim.Filter, 80)
	for i := range out {
		out[i] = tree(3)
	}
	return out
}

func vp(p scim.AttrPath, f scim.Filter) scim.Filter { return &scim.ValuePathExpr{Path: p, Filter: f} }

// genValuePaths puts one or two comparisons of sub-attributes of a
// multi-valued attribute in brackets, joined and negated every way.
func genValuePaths(rng *rand.Rand, users []*scim.Resource) []scim.Filter {
	var out []scim.Filter
	for _, set := range []struct {
		top  scim.AttrPath
		subs []scim.AttrPath
	}{
		{pEmails, []scim.AttrPath{pEmailValue, pEmailType, pEmailPrimary}},
		{pPhones, []scim.AttrPath{pPhoneValue, pPhoneType}},
		{pX509, []scim.AttrPath{pX509Value}},
		{pName, []scim.AttrPath{pGivenName, pFamilyName}},
	} {
		var inner []scim.Filter
		for _, sp := range set.subs {
			plain, _ := atoms(rng, sp, operands(users, sp))
			inner = append(inner, plain...)
			inner = append(inner, cmp(sp, scim.OpPresent, nil))
		}
		for i := 0; i < 6; i++ {
			a, b := inner[rng.Intn(len(inner))], inner[rng.Intn(len(inner))]
			out = append(out, vp(set.top, a), vp(set.top, and(a, b)), vp(set.top, or(a, not(b))), not(vp(set.top, a)))
		}
	}
	return out
}

func handValuePaths() []scim.Filter {
	s := func(p scim.AttrPath, op scim.CompareOp, v any) scim.Filter { return cmp(p, op, v) }
	work, home := s(pEmailType, scim.OpEqual, "work"), s(pEmailType, scim.OpEqual, "home")
	return []scim.Filter{
		// Both conditions on one value: bjensen's work email is not at a.example.
		vp(pEmails, and(work, s(pEmailValue, scim.OpEndsWith, "a.example"))),
		vp(pEmails, and(home, s(pEmailValue, scim.OpEndsWith, "a.example"))),
		vp(pEmails, and(work, s(pEmailValue, scim.OpContains, "babs"))),
		vp(pEmails, not(work)),
		not(vp(pEmails, work)),
		vp(pEmails, and(s(pEmailPrimary, scim.OpEqual, true), s(pEmailValue, scim.OpStartsWith, "ab"))),
		vp(pEmails, or(home, s(pEmailPrimary, scim.OpEqual, true))),
		vp(pEmails, s(pEmailValue, scim.OpPresent, nil)),
		vp(pEmails, s(pEmailType, scim.OpPresent, nil)),
		vp(pEmails, s(pEmailPrimary, scim.OpNotEqual, true)),
		and(vp(pEmails, work), vp(pEmails, home)),
		or(vp(pEmails, and(work, s(pEmailPrimary, scim.OpEqual, true))), vp(pPhones, s(pPhoneType, scim.OpEqual, "mobile"))),
		vp(pName, and(s(pGivenName, scim.OpEqual, "barbara"), s(pFamilyName, scim.OpEqual, "JENSEN"))),
		vp(pName, s(pGivenName, scim.OpPresent, nil)),
		vp(pManager, s(pManagerValue, scim.OpPresent, nil)),
		vp(pX509, s(pX509Value, scim.OpEqual, "QUJDRA==")),
		vp(pPhones, or(s(pPhoneType, scim.OpEqual, "home"), s(pPhoneValue, scim.OpStartsWith, "+41"))),
		vp(pGroups, s(pGroupsDisplay, scim.OpEqual, "admins")),
		vp(pGroups, or(s(pGroupsValue, scim.OpEqual, "Grp-00"), s(pGroupsValue, scim.OpEqual, "Grp-03"))),
		vp(pGroups, s(scim.AttrPath{Name: "groups", Sub: "type", Type: scim.TypeString, MultiValued: true}, scim.OpEqual, "direct")),
	}
}

func handCaseFilters() []scim.Filter {
	return []scim.Filter{
		cmp(pUserName, scim.OpEqual, "BJENSEN"),
		cmp(pUserName, scim.OpEqual, "ærøskøbing.ølsen"),
		cmp(pExternalID, scim.OpEqual, "Ext-Pair"),
		cmp(pExternalID, scim.OpEqual, "EXT-PAIR"),
		cmp(pExternalID, scim.OpStartsWith, "ext-"),
		cmp(pID, scim.OpEqual, "CaseID-a"),
		cmp(pID, scim.OpEqual, "caseid-a"),
		cmp(pID, scim.OpStartsWith, "case"),
		cmp(pX509Value, scim.OpEqual, "QUJDRA=="),
		cmp(pX509Value, scim.OpEqual, "qujdra=="),
		cmp(pCode, scim.OpEqual, "x-ab"),
		cmp(pCode, scim.OpEqual, "X-AB"),
		cmp(pTitle, scim.OpEqual, "École"),
		cmp(pTitle, scim.OpGreaterOrEqual, "ÉCOLE"),
		cmp(pFamilyName, scim.OpEqual, "Ölsen"),
		cmp(pTags, scim.OpEqual, "BETA"),
		cmp(pHomepage, scim.OpStartsWith, "https://example.com"),
		cmp(pEmailValue, scim.OpContains, "BJENSEN@A"),
		cmp(pDepartment, scim.OpEqual, "r&d"),
		cmp(pDepartment, scim.OpEqual, "STRASSE & SÖHNE"), // ß has no one-rune upper case: no match
		cmp(pUserName, scim.OpGreater, "BJENSEN"),
		cmp(pUserName, scim.OpLess, "Ærin"),
	}
}

func handSpecialFilters() []scim.Filter {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return []scim.Filter{
		cmp(pTitle, scim.OpContains, "%"),
		cmp(pTitle, scim.OpContains, "_"),
		cmp(pTitle, scim.OpStartsWith, "50%"),
		cmp(pTitle, scim.OpEndsWith, "_b"),
		cmp(pTitle, scim.OpEqual, "a%"),
		cmp(pDisplayName, scim.OpContains, `\`),
		cmp(pDisplayName, scim.OpContains, "'s"),
		cmp(pTitle, scim.OpContains, "'"),
		cmp(pLevel, scim.OpEqual, int64(1<<53)),
		cmp(pLevel, scim.OpEqual, int64(1<<53+1)),
		cmp(pLevel, scim.OpGreater, int64(1<<53)),
		cmp(pLevel, scim.OpLess, int64(-1<<59)),
		cmp(pLevel, scim.OpGreaterOrEqual, int64(-50)),
		cmp(pScore, scim.OpEqual, 7.0),
		cmp(pScore, scim.OpEqual, 2.0),
		cmp(pScore, scim.OpGreater, -0.5),
		cmp(pScore, scim.OpLessOrEqual, 7.5),
		cmp(pHiredAt, scim.OpEqual, at("2024-03-10T10:00:00Z")),
		cmp(pHiredAt, scim.OpEqual, at("2024-03-10T15:30:00+05:30")),
		cmp(pHiredAt, scim.OpGreater, at("2024-03-10T09:59:59.999Z")),
		cmp(pHiredAt, scim.OpLess, at("2024-03-10T11:00:00+01:00")),
		cmp(pHiredAt, scim.OpLessOrEqual, at("2024-03-10T11:00:00+01:00")),
		cmp(pMetaCreated, scim.OpEqual, t0),
		cmp(pMetaCreated, scim.OpGreater, t0.Add(100*37*time.Second).In(zones[2])),
		cmp(pMetaLastModified, scim.OpLessOrEqual, t0.Add(time.Hour)),
		cmp(pVIP, scim.OpNotEqual, true),
		cmp(pActive, scim.OpNotEqual, false),
	}
}

func handLogical() []scim.Filter {
	jensen := cmp(pUserName, scim.OpStartsWith, "bjensen")
	active := cmp(pActive, scim.OpEqual, true)
	title := cmp(pTitle, scim.OpPresent, nil)
	return []scim.Filter{
		not(title),
		not(active),
		not(cmp(pUserName, scim.OpNotEqual, "bjensen")),
		or(jensen, and(active, title)),
		and(or(jensen, active), title),
		not(or(jensen, active)),
		and(not(jensen), active),
		not(not(jensen)),
		or(not(active), not(title)),
		not(and(jensen, not(title))),
	}
}

func handGroupFilters() []scim.Filter {
	return []scim.Filter{
		vp(pMembers, cmp(pMembersType, scim.OpEqual, "Group")),
		vp(pMembers, and(cmp(pMembersValue, scim.OpEqual, "edge-00"), cmp(pMembersDisplay, scim.OpPresent, nil))),
		vp(pMembers, and(cmp(pMembersValue, scim.OpEqual, "Edge-01"), cmp(pMembersDisplay, scim.OpPresent, nil))),
		cmp(pMembersValue, scim.OpEqual, "Edge-00"),
		not(cmp(pMembersValue, scim.OpEqual, "Edge-00")),
		cmp(pDisplayName, scim.OpEqual, "ADMINS"),
		cmp(pDisplayName, scim.OpContains, "'s"),
		cmp(pDisplayName, scim.OpContains, "/"),
	}
}

func handUserGroupFilters() []scim.Filter {
	return []scim.Filter{
		cmp(pGroups, scim.OpPresent, nil),
		not(cmp(pGroups, scim.OpPresent, nil)),
		cmp(pGroupsValue, scim.OpEqual, "Grp-00"),
		cmp(pGroupsValue, scim.OpEqual, "grp-00"),
		and(cmp(pGroupsValue, scim.OpEqual, "Grp-00"), cmp(pGroupsValue, scim.OpEqual, "Grp-03")),
		cmp(pGroupsDisplay, scim.OpEqual, "tour guides"),
	}
}

// sortedIDs returns ids sorted, for messages.
func sortedIDs(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}
