package scim

import (
	"encoding/json"
	"strings"
)

// This file keeps multi-valued attributes free of duplicates (RFC 7643
// §2.4) at a cost linear in the values: the key of a value, the index a
// PATCH builds once per attribute per request, and the final pass that
// merges duplicates and counts values.

// valueKeys returns the function that keys the values of def by what makes
// two of them the same value:
//
//   - for values that reference a resource (those with a $ref
//     sub-attribute, such as members), their "value": the id itself, so
//     that indexing a large member list allocates no keys;
//   - for other complex values with a "value", their type and value
//     (an email is the same address whatever its display), compared as
//     the filter evaluator compares them (case-insensitively unless
//     caseExact);
//   - for anything else the whole value but "primary", which marks a value
//     rather than being part of it.
//
// The last two kinds start with a control character, which no id the
// handler accepts holds, so keys of different kinds never collide.
func valueKeys(def *attrDef) func(any) string {
	byRef := def.sub("$ref") != nil
	valueDef := def.sub("value")
	typeDef := def.sub("type")
	fold := func(sub *attrDef, v any) string {
		if s, ok := v.(string); ok {
			if sub != nil && !sub.caseExact {
				s = FoldCase(s)
			}
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	whole := func(v any) string {
		b, _ := json.Marshal(v)
		return "\x00" + string(b)
	}
	return func(v any) string {
		m, ok := v.(map[string]any)
		if !ok {
			return whole(v)
		}
		if id, isStr := m["value"].(string); isStr && byRef {
			return id
		}
		if val, has := m["value"]; has && valueDef != nil {
			t := ""
			if tv, ok := m["type"]; ok {
				t = fold(typeDef, tv)
			}
			return "\x01" + strings.ReplaceAll(t, "\x00", "\x00\x00") + "\x00" + fold(valueDef, val)
		}
		return whole(withoutPrimary(m))
	}
}

// mergeInto folds v, a value with the same key as dst, into dst: its
// sub-attributes that may change replace dst's, and primary carries over.
// Immutable sub-attributes (a member's) keep dst's.
func mergeInto(def *attrDef, dst map[string]any, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, sv := range m {
		if sub := def.sub(k); sub != nil && sub.mutability == "immutable" {
			if _, had := dst[k]; had {
				continue
			}
		}
		dst[k] = sv
	}
}

// dedupeValues merges the values of list that have the same key, keeping
// the first one's position; of several primary values the last one
// written stays primary. It changes list and returns the shortened list.
func dedupeValues(def *attrDef, list []any) []any {
	if len(list) < 2 {
		return list
	}
	key := valueKeys(def)
	seen := make(map[string]int, len(list))
	out := list[:0]
	for _, v := range list {
		k := key(v)
		if i, dup := seen[k]; dup {
			if dst, ok := out[i].(map[string]any); ok {
				mergeInto(def, dst, v)
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, v)
	}
	clear(list[len(out):]) // let the dropped values go
	return out
}

// valueIndex is a PATCH's index of one multi-valued attribute, built once
// per request however many operations add or remove values: adding or
// removing a value costs O(1), not O(values). Removed values are left as
// nil holes until flush compacts the list.
type valueIndex struct {
	def     *attrDef
	key     func(any) string
	list    []any          // the values, with nil holes
	pos     map[string]int // key → position in list
	primary []int          // positions of primary values
	holes   int
	dups    bool // the list held a value twice when indexed
}

func newValueIndex(def *attrDef, list []any) *valueIndex {
	ix := &valueIndex{def: def, key: valueKeys(def), list: list, pos: make(map[string]int, len(list))}
	for i, v := range list {
		k := ix.key(v)
		if _, dup := ix.pos[k]; dup {
			ix.dups = true
		} else {
			ix.pos[k] = i
		}
		if isPrimary(v) {
			ix.primary = append(ix.primary, i)
		}
	}
	return ix
}

// add adds v unless a value with its key is there, which it then merges
// into (see mergeInto). A primary v takes primary from the others.
func (ix *valueIndex) add(v any) {
	k := ix.key(v)
	i, found := ix.pos[k]
	if found {
		if dst, ok := ix.list[i].(map[string]any); ok {
			mergeInto(ix.def, dst, v)
		}
	} else {
		ix.list = append(ix.list, v)
		i = len(ix.list) - 1
		ix.pos[k] = i
	}
	if isPrimary(v) {
		for _, p := range ix.primary {
			if p != i {
				if m, ok := ix.list[p].(map[string]any); ok {
					delete(m, "primary")
				}
			}
		}
		ix.list[i].(map[string]any)["primary"] = true
		ix.primary = append(ix.primary[:0], i)
	}
}

// remove removes the value with v's key, if there is one.
func (ix *valueIndex) remove(v any) {
	ix.removeKey(ix.key(v))
}

func (ix *valueIndex) removeKey(k string) {
	i, found := ix.pos[k]
	if !found {
		return
	}
	delete(ix.pos, k)
	ix.list[i] = nil
	ix.holes++
}

// live is the number of values the list holds.
func (ix *valueIndex) live() int { return len(ix.list) - ix.holes }

// values returns the list without holes.
func (ix *valueIndex) values() []any {
	if ix.holes == 0 {
		return ix.list
	}
	out := make([]any, 0, ix.live())
	for _, v := range ix.list {
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}
