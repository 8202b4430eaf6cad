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
func (b *builder) sortKey(by scim.AttrPath) (string, bool) {
	if by.URN == "" {
		switch by.Name {
		case "id":
			if !isStringType(by.Type) {
				return "", false
			}
			if by.CaseExact {
				return `r.id COLLATE "C"`, true
			}
			return "r.id_folded", true
		case "meta":
			switch by.Sub {
			case "created":
				return "r.created", true
			case "lastModified":
				return "r.last_modified", true
			case "version":
				if by.CaseExact {
					return `r.version COLLATE "C"`, true
				}
			case "resourceType":
				return "NULL::text", true // the same for every resource of the query
			}
			return "", false
		case membersAttr:
			if b.typ == groupType {
				return "", false
			}
		case groupsAttr:
			if b.typ == userType {
				return "", false
			}
		}
	}
	var key string
	fm := stored
	switch {
	case isStringType(by.Type):
		if !by.CaseExact {
			fm = folded
		}
		key = `(CASE WHEN jsonb_typeof(k.v) = 'string' AND k.v <> '""'::jsonb THEN k.v #>> '{}' END) COLLATE "C"`
	case by.Type == scim.TypeInteger || by.Type == scim.TypeDecimal:
		key = `CASE WHEN jsonb_typeof(k.v) = 'number' THEN k.v::numeric END`
	case by.Type == scim.TypeDateTime:
		// The instant in nanoseconds, from the times form.
		fm = times
		key = `CASE WHEN jsonb_typeof(k.v) = 'number' THEN k.v::numeric END`
	case by.Type == scim.TypeBoolean:
		fm = folded
		key = `CASE WHEN jsonb_typeof(k.v) = 'boolean' THEN k.v::boolean
			WHEN k.v = '"true"'::jsonb THEN TRUE WHEN k.v = '"false"'::jsonb THEN FALSE END`
	default:
		return "", false
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
	return `(SELECT ` + key + ` FROM (SELECT CASE WHEN jsonb_typeof(y.v) = 'array' THEN y.v -> 0 ELSE y.v END AS v FROM ` + val + ` y) k)`, true
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
