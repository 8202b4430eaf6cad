package postgres

import (
	"github.com/scimkit/scim"
)

// primaryPath selects the element of a list whose "primary" is true (or a
// string "true" in any case), as scim.Compare picks the value a
// multi-valued attribute sorts by.
const primaryPath = `$[*] ? (@.primary == true || @.primary like_regex "^true$" flag "i")`

// sortKey returns the SQL of the value resources sort by, ordered as
// scim.Compare orders them, with NULL for resources without one; ok is
// false when SQL cannot order by by exactly (untyped or complex paths, a
// Group's members, a User's groups), and Go sorts.
func (b *builder) sortKey(by scim.AttrPath) (string, keyKind, bool) {
	if by.URN == "" {
		switch by.Name {
		case "id":
			if !isStringType(by.Type) {
				return "", 0, false
			}
			if by.CaseExact {
				return `r.id COLLATE "C"`, kindText, true
			}
			return "r.id_folded", kindText, true
		case "meta":
			switch by.Sub {
			case "created":
				return "r.created", kindTime, true
			case "lastModified":
				return "r.last_modified", kindTime, true
			case "version":
				if by.CaseExact {
					return `r.version COLLATE "C"`, kindText, true
				}
			case "resourceType":
				return "NULL::text", kindText, true // the same for every resource of the query
			}
			return "", 0, false
		case membersAttr:
			if b.typ == groupType {
				return "", 0, false
			}
		case groupsAttr:
			if b.typ == userType {
				return "", 0, false
			}
		}
	}
	var (
		key  string
		kind keyKind
	)
	fm := stored
	switch {
	case isStringType(by.Type):
		if !by.CaseExact {
			fm = folded
		}
		key, kind = `(CASE WHEN jsonb_typeof(k.v) = 'string' AND k.v <> '""'::jsonb THEN k.v #>> '{}' END) COLLATE "C"`, kindText
	case by.Type == scim.TypeInteger || by.Type == scim.TypeDecimal:
		key, kind = `CASE WHEN jsonb_typeof(k.v) = 'number' THEN k.v::numeric END`, kindNum
	case by.Type == scim.TypeDateTime:
		// The instant in nanoseconds, from the times form.
		fm = times
		key, kind = `CASE WHEN jsonb_typeof(k.v) = 'number' THEN k.v::numeric END`, kindNum
	case by.Type == scim.TypeBoolean:
		fm = folded
		kind = kindBool
		key = `CASE WHEN jsonb_typeof(k.v) = 'boolean' THEN k.v::boolean
			WHEN k.v = '"true"'::jsonb THEN TRUE WHEN k.v = '"false"'::jsonb THEN FALSE END`
	default:
		return "", 0, false
	}
	doc := [...]string{stored: "r.attrs", folded: "r.folded", times: "r.times"}[fm]
	path := []string{by.Name}
	if by.URN != "" {
		path = []string{by.URN, by.Name}
	}
	top := doc + " #> " + b.arg(path) + "::text[]"
	elem := `(SELECT CASE WHEN jsonb_typeof(t.top) = 'array'
			THEN coalesce(jsonb_path_query_first(t.top, '` + primaryPath + `'), t.top -> 0)
			ELSE t.top END AS e FROM (SELECT ` + top + ` AS top) t)`
	var val string
	if by.Sub != "" {
		val = `(SELECT CASE WHEN jsonb_typeof(x.e) = 'object' THEN x.e -> ` + b.arg(by.Sub) + `::text END AS v FROM ` + elem + ` x)`
	} else {
		val = `(SELECT CASE WHEN jsonb_typeof(x.e) = 'object' THEN x.e -> 'value' ELSE x.e END AS v FROM ` + elem + ` x)`
	}
	return `(SELECT ` + key + ` FROM (SELECT CASE WHEN jsonb_typeof(y.v) = 'array' THEN y.v -> 0 ELSE y.v END AS v FROM ` + val + ` y) k)`, kind, true
}

// orderBy returns the ORDER BY list for the sort key sk ("" for none) of
// the relation alias: resources without a value last when ascending and
// first when descending (RFC 7644 §3.4.2.3), ties in the store's order.
func orderBy(alias, sk string, descending bool) string {
	if sk == "" {
		return alias + ".seq"
	}
	if descending {
		return sk + " DESC NULLS FIRST, " + alias + ".seq"
	}
	return sk + " ASC NULLS LAST, " + alias + ".seq"
}
