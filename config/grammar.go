package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// The command grammar is written in the notation of the IOS command
// references, so that one string both parses a command and documents it:
//
//	keyword          a literal, matched case-insensitively by any prefix
//	<name:type>      an argument; types are listed in argTypes
//	<name:int:lo-hi> an integer argument with an inclusive range
//	[ a | b ]        optional: one of the alternatives, or nothing
//	{ a | b }        required: one of the alternatives
//	elem...          the element once or more
//
// Within [ ] and { } an alternative may be a sequence of elements.

type elemKind uint8

const (
	eKeyword elemKind = iota
	eArg
	eSeq
	eAlt // required choice
	eOpt // optional choice
	eRep // one or more
)

type argType uint8

const (
	tWord    argType = iota // any single token
	tInt                    // decimal integer, optionally ranged
	tIPv4                   // dotted-quad address
	tMask                   // dotted-quad contiguous netmask
	tIface                  // interface name, possibly over several tokens
	tLine                   // the rest of the line, at least one token
	tHex                    // hexadecimal digits
	tIPv6Pfx                // IPv6 prefix, ADDRESS/LENGTH
)

var argTypes = map[string]argType{
	"word": tWord, "int": tInt, "ipv4": tIPv4, "mask": tMask,
	"interface": tIface, "line": tLine, "hex": tHex, "ipv6prefix": tIPv6Pfx,
}

func (t argType) expect() string {
	switch t {
	case tInt:
		return "a number"
	case tIPv4:
		return "an IPv4 address"
	case tMask:
		return "a network mask (a.b.c.d)"
	case tIface:
		return "an interface name"
	case tLine:
		return "text"
	case tHex:
		return "hexadecimal digits"
	case tIPv6Pfx:
		return "an IPv6 prefix (X:X::X/LENGTH)"
	}
	return "a word"
}

type elem struct {
	kind   elemKind
	word   string // keyword text, or argument name
	typ    argType
	lo, hi int64 // range for tInt when hasRange
	ranged bool
	kids   []*elem
}

// compile parses a syntax string into an element tree. It panics on a
// malformed spec: specs are program text, checked by TestCommandTable.
func compile(spec string) *elem {
	p := &specParser{toks: specTokens(spec)}
	e := p.seq()
	if p.i != len(p.toks) {
		panic(fmt.Sprintf("config: spec %q: unexpected %q", spec, p.toks[p.i]))
	}
	return e
}

func specTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '[' || c == ']' || c == '{' || c == '}' || c == '|':
			out = append(out, s[i:i+1])
			i++
		case c == '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				panic("config: unterminated < in spec " + s)
			}
			out = append(out, s[i:i+j+1])
			i += j + 1
		case strings.HasPrefix(s[i:], "..."):
			out = append(out, "...")
			i += 3
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" []{}|<", rune(s[j])) && !strings.HasPrefix(s[j:], "...") {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

type specParser struct {
	toks []string
	i    int
}

func (p *specParser) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return ""
}

func (p *specParser) seq() *elem {
	s := &elem{kind: eSeq}
	for {
		t := p.peek()
		if t == "" || t == "]" || t == "}" || t == "|" {
			return s
		}
		e := p.atom()
		if p.peek() == "..." {
			p.i++
			e = &elem{kind: eRep, kids: []*elem{e}}
		}
		s.kids = append(s.kids, e)
	}
}

func (p *specParser) atom() *elem {
	t := p.toks[p.i]
	p.i++
	switch {
	case t == "[" || t == "{":
		kind, closer := eOpt, "]"
		if t == "{" {
			kind, closer = eAlt, "}"
		}
		e := &elem{kind: kind}
		for {
			e.kids = append(e.kids, p.seq())
			switch p.peek() {
			case "|":
				p.i++
				continue
			case closer:
				p.i++
				return e
			}
			panic(fmt.Sprintf("config: spec: expected %s near %q", closer, strings.Join(p.toks, " ")))
		}
	case strings.HasPrefix(t, "<"):
		parts := strings.Split(t[1:len(t)-1], ":")
		if len(parts) < 2 {
			panic("config: spec argument needs a type: " + t)
		}
		typ, ok := argTypes[parts[1]]
		if !ok {
			panic("config: unknown spec type " + parts[1])
		}
		e := &elem{kind: eArg, word: parts[0], typ: typ}
		if len(parts) == 3 {
			lo, hi, ok := strings.Cut(parts[2], "-")
			if !ok {
				panic("config: bad range in " + t)
			}
			e.lo, _ = strconv.ParseInt(lo, 10, 64)
			e.hi, _ = strconv.ParseInt(hi, 10, 64)
			e.ranged = true
		}
		return e
	}
	return &elem{kind: eKeyword, word: strings.ToLower(t)}
}

// String renders an element back in reference notation.
func (e *elem) String() string {
	switch e.kind {
	case eKeyword:
		return e.word
	case eArg:
		if e.ranged {
			return fmt.Sprintf("<%s %d-%d>", e.word, e.lo, e.hi)
		}
		return "<" + e.word + ">"
	case eSeq:
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			parts[i] = k.String()
		}
		return strings.Join(parts, " ")
	case eAlt, eOpt:
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			parts[i] = k.String()
		}
		if e.kind == eAlt {
			return "{" + strings.Join(parts, " | ") + "}"
		}
		return "[" + strings.Join(parts, " | ") + "]"
	case eRep:
		return e.kids[0].String() + "..."
	}
	return "?"
}

// leadingKeywords returns the literal keywords a match must start with.
func (e *elem) leadingKeywords() []string {
	var out []string
	if e.kind != eSeq {
		return nil
	}
	for _, k := range e.kids {
		if k.kind != eKeyword {
			break
		}
		out = append(out, k.word)
	}
	return out
}

// item is one matched token (or token group, for interfaces).
type item struct {
	name  string // keyword text or argument name
	value string // the canonical keyword, or the argument text
	arg   bool
	exact bool // keyword matched in full
}

// Match is the result of matching a line against a command spec.
type Match struct {
	items []item
}

// Has reports whether keyword kw was matched.
func (m *Match) Has(kw string) bool {
	for _, it := range m.items {
		if !it.arg && it.name == kw {
			return true
		}
	}
	return false
}

// Str returns the value of the argument name, or "" if absent.
func (m *Match) Str(name string) string {
	for _, it := range m.items {
		if it.arg && it.name == name {
			return it.value
		}
	}
	return ""
}

// All returns every value of argument name, in order.
func (m *Match) All(name string) []string {
	var out []string
	for _, it := range m.items {
		if it.arg && it.name == name {
			out = append(out, it.value)
		}
	}
	return out
}

// Int returns the integer argument name (validated by the matcher).
func (m *Match) Int(name string) int {
	n, _ := strconv.Atoi(m.Str(name))
	return n
}

// Addr returns the IPv4 argument name.
func (m *Match) Addr(name string) netip.Addr {
	a, _ := netip.ParseAddr(m.Str(name))
	return a
}

// Prefix returns the IPv6 prefix argument name.
func (m *Match) Prefix(name string) netip.Prefix {
	p, _ := netip.ParsePrefix(m.Str(name))
	return p
}

// KeywordsIn returns the matched keywords that are members of set, in
// line order (for repeated choices such as authentication protocols).
func (m *Match) KeywordsIn(set ...string) []string {
	var out []string
	for _, it := range m.items {
		if !it.arg && slices.Contains(set, it.name) {
			out = append(out, it.name)
		}
	}
	return out
}

// Keyword returns the first matched keyword that is a member of set, or ""
// when none is (a no form may leave the choice out).
func (m *Match) Keyword(set ...string) string {
	if kw := m.KeywordsIn(set...); len(kw) > 0 {
		return kw[0]
	}
	return ""
}

// score ranks a match: more exactly-matched keywords is better, so that
// "ms-chap" chooses ms-chap over ms-chap-v2 and a full keyword beats an
// argument that happens to accept the same word.
func (m *Match) score() int {
	s := 0
	for _, it := range m.items {
		if !it.arg {
			s += 2
			if it.exact {
				s++
			}
		}
	}
	return s
}

// failure records the furthest point a match reached and what would have
// been accepted there, for error messages.
type failure struct {
	pos    int
	expect []string
}

func (f *failure) note(pos int, what string) {
	if pos > f.pos {
		f.pos = pos
		f.expect = f.expect[:0]
	}
	if pos == f.pos && !slices.Contains(f.expect, what) {
		f.expect = append(f.expect, what)
	}
}

type matcher struct {
	toks []string
	fail failure
	// partial, when set, records the items of the first way the whole
	// line matched a prefix of the spec (for "no" forms, which IOS
	// accepts without their trailing arguments).
	partial      bool
	partialItems []item
	partialSet   bool
}

func (mt *matcher) notePartial(pos int, items []item) {
	if mt.partial && pos >= len(mt.toks) && !mt.partialSet {
		mt.partialItems, mt.partialSet = slices.Clone(items), true
	}
}

// match tries to match e against toks starting at pos; for every way it can,
// it calls k with the new position and the items so far. k returns true to
// stop the search (a complete match was found).
func (mt *matcher) match(e *elem, pos int, items []item, k func(int, []item) bool) bool {
	switch e.kind {
	case eKeyword:
		if pos >= len(mt.toks) {
			mt.notePartial(pos, items)
			mt.fail.note(pos, e.word)
			return false
		}
		t := strings.ToLower(mt.toks[pos])
		if !strings.HasPrefix(e.word, t) {
			mt.fail.note(pos, e.word)
			return false
		}
		return k(pos+1, append(items, item{name: e.word, value: e.word, exact: t == e.word}))
	case eArg:
		if pos >= len(mt.toks) {
			mt.notePartial(pos, items)
			mt.fail.note(pos, e.typ.expect())
			return false
		}
		switch e.typ {
		case tLine:
			return k(len(mt.toks), append(items, item{name: e.word, value: strings.Join(mt.toks[pos:], " "), arg: true}))
		case tIface:
			for n := min(4, len(mt.toks)-pos); n >= 1; n-- {
				name, err := ParseInterfaceName(strings.Join(mt.toks[pos:pos+n], " "))
				if err != nil {
					continue
				}
				if k(pos+n, append(items, item{name: e.word, value: name.String(), arg: true})) {
					return true
				}
			}
			mt.fail.note(pos, e.typ.expect())
			return false
		}
		v, ok := checkArg(e, mt.toks[pos])
		if !ok {
			what := e.typ.expect()
			if e.ranged {
				what = fmt.Sprintf("a number from %d to %d", e.lo, e.hi)
			}
			mt.fail.note(pos, what)
			return false
		}
		return k(pos+1, append(items, item{name: e.word, value: v, arg: true}))
	case eSeq:
		return mt.seq(e.kids, pos, items, k)
	case eAlt, eOpt:
		// Keyword alternatives resolve IOS-style first: an exact keyword
		// wins, then a unique prefix; an ambiguous prefix matches none.
		if pos < len(mt.toks) {
			if only := mt.resolveKeyword(e, mt.toks[pos]); only != nil {
				if mt.match(only, pos, items, k) {
					return true
				}
				if e.kind == eOpt {
					return k(pos, items)
				}
				return false
			}
		}
		for _, alt := range e.kids {
			if alt.kind == eSeq && len(alt.kids) > 0 && alt.kids[0].kind == eKeyword && pos < len(mt.toks) && mt.ambiguous(e, mt.toks[pos]) {
				continue
			}
			if mt.match(alt, pos, items, k) {
				return true
			}
		}
		if e.kind == eOpt {
			return k(pos, items)
		}
		return false
	case eRep:
		var more func(int, []item) bool
		more = func(p int, its []item) bool {
			// Greedy: try one more repetition before stopping.
			if p < len(mt.toks) && mt.match(e.kids[0], p, its, func(q int, its2 []item) bool {
				return q > p && more(q, its2)
			}) {
				return true
			}
			return k(p, its)
		}
		return mt.match(e.kids[0], pos, items, more)
	}
	return false
}

func (mt *matcher) seq(kids []*elem, pos int, items []item, k func(int, []item) bool) bool {
	if len(kids) == 0 {
		return k(pos, items)
	}
	return mt.match(kids[0], pos, items, func(p int, its []item) bool {
		return mt.seq(kids[1:], p, its, k)
	})
}

// firstKeyword returns the keyword an alternative begins with, if any.
func firstKeyword(alt *elem) string {
	switch alt.kind {
	case eKeyword:
		return alt.word
	case eSeq:
		if len(alt.kids) > 0 && alt.kids[0].kind == eKeyword {
			return alt.kids[0].word
		}
	}
	return ""
}

// resolveKeyword returns the single alternative of e selected by token t
// when t is an exact keyword, or a prefix of exactly one keyword.
func (mt *matcher) resolveKeyword(e *elem, t string) *elem {
	t = strings.ToLower(t)
	var prefix []*elem
	for _, alt := range e.kids {
		w := firstKeyword(alt)
		if w == "" {
			continue
		}
		if w == t {
			return alt
		}
		if strings.HasPrefix(w, t) {
			prefix = append(prefix, alt)
		}
	}
	if len(prefix) == 1 {
		return prefix[0]
	}
	return nil
}

func (mt *matcher) ambiguous(e *elem, t string) bool {
	t = strings.ToLower(t)
	n := 0
	for _, alt := range e.kids {
		if w := firstKeyword(alt); w != "" && strings.HasPrefix(w, t) {
			if w == t {
				return false
			}
			n++
		}
	}
	return n > 1
}

func checkArg(e *elem, t string) (string, bool) {
	switch e.typ {
	case tWord:
		return t, true
	case tInt:
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return "", false
		}
		if e.ranged && (n < e.lo || n > e.hi) {
			return "", false
		}
		return strconv.FormatInt(n, 10), true
	case tIPv4:
		a, err := netip.ParseAddr(t)
		if err != nil || !a.Is4() {
			return "", false
		}
		return a.String(), true
	case tMask:
		a, err := netip.ParseAddr(t)
		if err != nil || !a.Is4() {
			return "", false
		}
		if _, ok := maskBits(a); !ok {
			return "", false
		}
		return a.String(), true
	case tIPv6Pfx:
		pf, err := netip.ParsePrefix(t)
		if err != nil || !pf.Addr().Is6() || pf.Addr().Is4In6() {
			return "", false
		}
		return pf.String(), true
	case tHex:
		s := strings.TrimPrefix(strings.ToLower(t), "0x")
		if s == "" {
			return "", false
		}
		for _, c := range s {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return "", false
			}
		}
		return s, true
	}
	return "", false
}

// maskBits returns the prefix length of a contiguous dotted netmask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// matchAll matches toks against e in full. It returns the best complete
// match (by score), or the failure point. With prefixOK (the "no" form), a
// line that is a prefix of the spec covering at least its leading keywords
// matches too.
func matchAll(e *elem, toks []string, prefixOK bool) (*Match, failure) {
	mt := &matcher{toks: toks, partial: prefixOK}
	var best *Match
	mt.match(e, 0, nil, func(p int, its []item) bool {
		if p != len(toks) {
			mt.fail.note(p, "end of line")
			return false
		}
		m := &Match{items: slices.Clone(its)}
		if best == nil || m.score() > best.score() {
			best = m
		}
		return false // keep looking: a later alternative may score higher
	})
	if best == nil && mt.partialSet && len(mt.partialItems) >= len(e.leadingKeywords()) && len(mt.partialItems) > 0 {
		return &Match{items: mt.partialItems}, mt.fail
	}
	return best, mt.fail
}
