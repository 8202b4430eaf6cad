package memstore

import "strings"

// packMaxLen is the longest string packed with its resource's others.
const packMaxLen = 256

// packer keeps the strings of one stored resource that are not shared
// (its id, userName, emails, names) in one allocation: each decoded string
// is an allocation of its own, rounded up to a size class (a 36-byte id
// takes 48), and one more object for the GC to mark. They are written into
// one string and replaced by substrings of it, which share its bytes; they
// live and die together, with the resource.
type packer struct {
	sites  []packSite
	pieces []string       // the distinct strings, in the order they are packed
	at     map[string]int // the offset of each piece
	size   int
}

// packSite is where a string to pack is held: m[key], or list[i].
type packSite struct {
	m    map[string]any
	key  string
	list []any
	i    int
	s    string
	off  int // where s is in the packed string
}

// collect records the strings held in v, a tree of maps and lists the
// store owns, that are not in in's table. The caller holds in.mu.
func (p *packer) collect(in *interner, v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok {
				p.add(in, packSite{m: t, key: k, s: s})
			} else {
				p.collect(in, e)
			}
		}
	case []any:
		for i, e := range t {
			if s, ok := e.(string); ok {
				p.add(in, packSite{list: t, i: i, s: s})
			} else {
				p.collect(in, e)
			}
		}
	}
}

func (p *packer) add(in *interner, site packSite) {
	if len(site.s) == 0 || len(site.s) > packMaxLen {
		return
	}
	if _, shared := in.values[site.s]; shared {
		return
	}
	if p.at == nil {
		p.at = map[string]int{}
	}
	off, ok := p.at[site.s]
	if !ok { // a string the resource repeats (userName as an email) is packed once
		off = p.size
		p.at[site.s] = off
		p.pieces = append(p.pieces, site.s)
		p.size += len(site.s)
	}
	site.off = off
	p.sites = append(p.sites, site)
}

// pack writes the collected strings, and extra, into one string and puts
// its substrings in their places. It returns the packed form of extra, and
// a function giving the packed form of a string equal to extra or to a
// collected one, or the string itself.
func (p *packer) pack(extra string) (string, func(string) string) {
	var b strings.Builder
	b.Grow(len(extra) + p.size)
	b.WriteString(extra)
	for _, s := range p.pieces {
		b.WriteString(s)
	}
	all := b.String()
	packedExtra, pieces := all[:len(extra)], all[len(extra):]
	for _, site := range p.sites {
		s := pieces[site.off : site.off+len(site.s)]
		if site.m != nil {
			site.m[site.key] = s
		} else {
			site.list[site.i] = s
		}
	}
	same := func(s string) string {
		if s == packedExtra {
			return packedExtra
		}
		if off, ok := p.at[s]; ok {
			return pieces[off : off+len(s)]
		}
		return s
	}
	return packedExtra, same
}
