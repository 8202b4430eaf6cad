package memstore

import (
	"sort"

	"github.com/scimkit/scim"
	"github.com/scimkit/scim/internal/compact"
	"github.com/scimkit/scim/internal/fold"
)

// smallPosting is the size up to which a posting keeps a slice rather than
// a set: most values (a userName, an externalId, a user's groups) are held
// by one or a few resources.
const smallPosting = 16

// posting is the set of entries holding one value of an indexed attribute.
type posting struct {
	list []*entry            // used while set is nil
	set  map[*entry]struct{} // used once the posting has grown large
}

func (p *posting) add(e *entry) {
	if p.set != nil {
		p.set[e] = struct{}{}
		return
	}
	for _, x := range p.list {
		if x == e {
			return
		}
	}
	if len(p.list) < smallPosting {
		p.list = append(p.list, e)
		return
	}
	p.set = make(map[*entry]struct{}, 2*smallPosting)
	for _, x := range p.list {
		p.set[x] = struct{}{}
	}
	p.set[e] = struct{}{}
	p.list = nil
}

func (p *posting) remove(e *entry) {
	if p.set != nil {
		delete(p.set, e)
		return
	}
	for i, x := range p.list {
		if x == e {
			last := len(p.list) - 1
			p.list[i] = p.list[last]
			p.list[last] = nil
			p.list = p.list[:last]
			return
		}
	}
}

func (p *posting) len() int {
	if p.set != nil {
		return len(p.set)
	}
	return len(p.list)
}

// appendTo appends the entries of p to dst, in no particular order.
func (p *posting) appendTo(dst []*entry) []*entry {
	if p.set != nil {
		for e := range p.set {
			dst = append(dst, e)
		}
		return dst
	}
	return append(dst, p.list...)
}

// attrIndex maps the string values of one attribute of a resource type to
// the entries holding them. Values are kept exactly as stored, so a
// case-exact lookup is one map access; values that differ from their case
// fold are also listed under it in variants, so a case-insensitive lookup
// finds every spelling without lowercasing the whole index.
//
// A value held by one entry, as almost every userName and externalId is,
// is kept in one, which costs a map slot and nothing else; only values
// held by several entries have a posting in many. A value is in one or in
// many, never in both.
type attrIndex struct {
	// name is the top-level attribute; sub is the sub-attribute of each
	// value of a multi-valued complex attribute, or "" for a single string.
	name, sub string
	one       map[string]*entry
	many      map[string]*posting
	variants  map[string]map[string]struct{} // fold.String(v) → values v != fold.String(v)
}

func newAttrIndex(name, sub string) *attrIndex {
	return &attrIndex{name: name, sub: sub, one: map[string]*entry{}, many: map[string]*posting{}, variants: map[string]map[string]struct{}{}}
}

// holders appends the entries holding exactly v to dst.
func (x *attrIndex) holders(dst []*entry, v string) []*entry {
	if e := x.one[v]; e != nil {
		return append(dst, e)
	}
	if p := x.many[v]; p != nil {
		return p.appendTo(dst)
	}
	return dst
}

// holds reports whether some entry holds exactly v.
func (x *attrIndex) holds(v string) bool {
	return x.one[v] != nil || x.many[v] != nil
}

// values returns the string values res holds for the indexed attribute;
// they may repeat. Like scim.Matches, it looks into every element of a
// multi-valued attribute and flattens a value that is a list, so that the
// index holds every value a filter could match.
func (x *attrIndex) values(res *scim.Resource) []string {
	if res == nil {
		return nil
	}
	v, ok := res.Attributes[x.name]
	if !ok {
		return nil
	}
	if x.sub == "" {
		return appendStrings(nil, v)
	}
	if list, ok := v.([]any); ok {
		out := make([]string, 0, len(list))
		for _, el := range list {
			sv, _ := compact.Get(el, x.sub)
			out = appendStrings(out, sv)
		}
		return out
	}
	sv, _ := compact.Get(v, x.sub)
	return appendStrings(nil, sv)
}

// appendStrings appends v to dst if it is a string, or its strings if it is
// a list.
func appendStrings(dst []string, v any) []string {
	switch t := v.(type) {
	case string:
		return append(dst, t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

func (x *attrIndex) add(v string, e *entry) {
	if p := x.many[v]; p != nil {
		p.add(e)
		return
	}
	switch held := x.one[v]; {
	case held == e:
	case held != nil: // a second holder: the value gets a posting
		p := &posting{}
		p.add(held)
		p.add(e)
		delete(x.one, v)
		x.many[v] = p
	default:
		x.one[v] = e
		if f := fold.String(v); f != v {
			vs := x.variants[f]
			if vs == nil {
				vs = map[string]struct{}{}
				x.variants[f] = vs
			}
			vs[v] = struct{}{}
		}
	}
}

func (x *attrIndex) remove(v string, e *entry) {
	if p := x.many[v]; p != nil {
		p.remove(e)
		switch p.len() {
		case 0:
		case 1: // back to one holder: the posting goes
			delete(x.many, v)
			x.one[v] = p.appendTo(nil)[0]
			return
		default:
			return
		}
		delete(x.many, v)
	} else if x.one[v] == e {
		delete(x.one, v)
	} else {
		return
	}
	if f := fold.String(v); f != v {
		if vs := x.variants[f]; vs != nil {
			delete(vs, v)
			if len(vs) == 0 {
				delete(x.variants, f)
			}
		}
	}
}

// reindex moves e from the values of before to those of after; either may
// be nil. Values both hold are left alone, so replacing a large group with
// one member more touches the index once.
func (x *attrIndex) reindex(e *entry, before, after *scim.Resource) {
	was, is := x.values(before), x.values(after)
	if len(was) == 0 {
		for _, v := range is {
			x.add(v, e)
		}
		return
	}
	if len(was) == 1 && len(is) == 1 {
		if was[0] != is[0] {
			x.remove(was[0], e)
			x.add(is[0], e)
		}
		return
	}
	kept := make(map[string]bool, len(was))
	for _, v := range was {
		kept[v] = false
	}
	for _, v := range is {
		if _, ok := kept[v]; ok {
			kept[v] = true
		} else {
			x.add(v, e)
		}
	}
	for v, k := range kept {
		if !k {
			x.remove(v, e)
		}
	}
}

// lookup appends the entries holding v to dst: exactly, or ignoring case.
// The result may hold an entry twice.
func (x *attrIndex) lookup(dst []*entry, v string, caseExact bool) []*entry {
	if caseExact {
		return x.holders(dst, v)
	}
	f := fold.String(v)
	dst = x.holders(dst, f)
	for w := range x.variants[f] {
		dst = x.holders(dst, w)
	}
	return dst
}

// bySeq sorts entries into insertion order and drops duplicates.
func bySeq(es []*entry) []*entry {
	if len(es) < 2 {
		return es
	}
	sort.Slice(es, func(i, j int) bool { return es[i].seq < es[j].seq })
	out := es[:0]
	for i, e := range es {
		if i == 0 || e != es[i-1] {
			out = append(out, e)
		}
	}
	return out
}
