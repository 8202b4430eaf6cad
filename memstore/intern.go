package memstore

import (
	"strings"
	"sync"
)

// Bounds of a Store's interner.
const (
	internMaxLen    = 64      // longer strings are seldom shared
	internMaxValues = 1 << 16 // strings kept, over all attributes and tenants
	internMaxPaths  = 4096    // attributes judged
	internProbe     = 256     // values of an attribute seen before judging it
)

// interner shares the strings that many resources repeat: an email's
// "work" or "home", a department, a member's "User", a given name. Each
// decoded string costs its bytes and, held in an interface, a 16-byte
// header of its own; a shared one costs neither again. Strings are
// immutable, so sharing them across resources and tenants is invisible.
//
// It judges each attribute by windows of internProbe values: one whose
// values are mostly new (userName, externalId, an email address) is not
// interned further, so unique values cost the table little. A Store owns
// its interner; its lock is taken inside tenant locks and nothing is
// locked under it.
type interner struct {
	mu     sync.Mutex
	values map[string]any // each string boxed once
	paths  map[internKey]*internPath
	names  map[string]string // attribute names, of unique keys and of values
}

// internKey names an attribute: a sub-attribute name under its parent
// (an attribute or an extension's URN), or a top-level name under "".
type internKey struct{ parent, name string }

// internPath is what the interner learnt of one attribute.
type internPath struct {
	seen, fresh int  // values seen in this window, and those not yet interned
	off         bool // mostly fresh: not interned
}

func newInterner() *interner {
	return &interner{values: map[string]any{}, paths: map[internKey]*internPath{}, names: map[string]string{}}
}

// share returns v with the strings in it, at any depth, replaced by shared
// ones where worth it, and its maps' keys by shared names; maps and lists
// are copied, other values kept. name is v's attribute and parent the
// attribute or URN holding it ("" at the top level); a list's elements
// keep the list's name. The caller holds in.mu.
func (in *interner) share(parent, name string, v any) any {
	switch t := v.(type) {
	case string:
		return in.value(parent, name, v, t)
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, e := range t {
			c[in.name(k)] = in.share(name, k, e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = in.share(parent, name, e)
		}
		return c
	}
	return v
}

// value returns the shared form of s, the string in v, or v itself.
func (in *interner) value(parent, name string, v any, s string) any {
	if len(s) > internMaxLen {
		return v
	}
	shared, ok := in.values[s]
	key := internKey{parent, name}
	p := in.paths[key]
	if p == nil {
		if len(in.paths) >= internMaxPaths {
			return orElse(shared, ok, v)
		}
		p = &internPath{}
		in.paths[key] = p
	}
	if !p.off {
		// Judged by windows of internProbe values, so that an attribute
		// whose first values another one interned (an email that is the
		// userName) is still found out when its new values come.
		p.seen++
		if !ok {
			p.fresh++
		}
		if p.seen == internProbe {
			p.off = 2*p.fresh > p.seen
			p.seen, p.fresh = 0, 0
		}
	}
	if ok || p.off || len(in.values) >= internMaxValues {
		return orElse(shared, ok, v)
	}
	s = strings.Clone(s) // never keep a caller's larger buffer alive
	shared = s
	in.values[s] = shared
	return shared
}

func orElse(shared any, ok bool, v any) any {
	if ok {
		return shared
	}
	return v
}

// name returns the shared form of an attribute name (a key of a stored
// map, a unique key's attribute), which every resource of a type
// repeats: decoded, each would be an allocation of its own per resource.
// The caller holds in.mu.
func (in *interner) name(s string) string {
	if n, ok := in.names[s]; ok {
		return n
	}
	if len(in.names) >= internMaxPaths {
		return s
	}
	s = strings.Clone(s)
	in.names[s] = s
	return s
}
