package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Error is one configuration error, located by file and line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ErrorList is every error found in a configuration, in line order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// maxErrors bounds the errors reported for one file.
const maxErrors = 50

// Warning is a note about something accepted but worth a look.
type Warning = Error

// Result is a parsed configuration with its warnings.
type Result struct {
	Config   *Config
	Warnings []*Warning
}

// LoadFile reads and parses a configuration file.
func LoadFile(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, string(b))
}

// Parse parses configuration text. file names the source in errors. On
// failure the error is an ErrorList.
func Parse(file, text string) (*Result, error) {
	p := &parser{file: file, cfg: &Config{}}
	p.stack = []frame{{mode: mGlobal, indent: -1}}
	lines := strings.Split(text, "\n")
	skipIndent := -1 // skip lines indented deeper than this (a refused block)
	for i, raw := range lines {
		if len(p.errs) >= maxErrors {
			p.errs = append(p.errs, &Error{File: file, Line: i + 1, Msg: "too many errors; stopping"})
			break
		}
		line := strings.TrimRight(raw, " \t\r")
		if strings.ContainsRune(line, 0) {
			p.errf(i+1, "line contains a NUL byte")
			continue
		}
		body := strings.TrimLeft(line, " \t")
		indent := len(line) - len(body)
		if body == "" || body[0] == '!' || body[0] == '#' {
			continue
		}
		if skipIndent >= 0 {
			if indent > skipIndent {
				continue
			}
			skipIndent = -1
		}
		p.line = i + 1
		if ok := p.parseLine(body, indent); !ok {
			skipIndent = indent
		}
	}
	if len(p.errs) == 0 {
		p.validate()
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, p.errs
	}
	return &Result{Config: p.cfg, Warnings: p.warns}, nil
}

type mode uint8

const (
	mGlobal mode = iota
	mVPDNGroup
	mAccept
	mRequest
	mInterface
	mL2TPClass
	mPWClass
	mXconnect
	mController
	mAttrList
	mRadiusServer
	mRadiusGroup
	mDynAuthor
	mISAKMPPolicy
	mTransformSet
	mCryptoMap
	mIPsecProfile
	mACL
	mClientGroup
	mEzVPN
	mKeyring
	mISAKMPProfile
	mTrustpoint
	mCertChain
	mCertificate
	nModes
)

var modeNames = [...]string{
	mGlobal:        "global",
	mVPDNGroup:     "vpdn-group",
	mAccept:        "vpdn-group accept-dialin",
	mRequest:       "vpdn-group request-dialin",
	mInterface:     "interface",
	mL2TPClass:     "l2tp-class",
	mPWClass:       "pseudowire-class",
	mXconnect:      "interface xconnect",
	mController:    "controller",
	mAttrList:      "aaa attribute list",
	mRadiusServer:  "radius server",
	mRadiusGroup:   "aaa group server radius",
	mDynAuthor:     "aaa server radius dynamic-author",
	mISAKMPPolicy:  "crypto isakmp policy",
	mTransformSet:  "crypto ipsec transform-set",
	mCryptoMap:     "crypto map",
	mIPsecProfile:  "crypto ipsec profile",
	mACL:           "ip access-list extended",
	mClientGroup:   "crypto isakmp client configuration group",
	mKeyring:       "crypto keyring",
	mISAKMPProfile: "crypto isakmp profile",
	mEzVPN:         "crypto ipsec client ezvpn",
	mTrustpoint:    "crypto pki trustpoint",
	mCertChain:     "crypto pki certificate chain",
	mCertificate:   "certificate",
}

func (m mode) String() string { return modeNames[m] }

// prompt is the IOS prompt suffix of a mode, for the reference.
var modePrompts = [...]string{
	mGlobal:        "(config)#",
	mVPDNGroup:     "(config-vpdn)#",
	mAccept:        "(config-vpdn-acc-in)#",
	mRequest:       "(config-vpdn-req-in)#",
	mInterface:     "(config-if)#",
	mL2TPClass:     "(config-l2tp-class)#",
	mPWClass:       "(config-pw-class)#",
	mXconnect:      "(config-if-xconn)#",
	mController:    "(config-controller)#",
	mAttrList:      "(config-attr-list)#",
	mRadiusServer:  "(config-radius-server)#",
	mRadiusGroup:   "(config-sg-radius)#",
	mDynAuthor:     "(config-locsvr-da-radius)#",
	mISAKMPPolicy:  "(config-isakmp)#",
	mTransformSet:  "(cfg-crypto-trans)#",
	mCryptoMap:     "(config-crypto-map)#",
	mIPsecProfile:  "(ipsec-profile)#",
	mACL:           "(config-ext-nacl)#",
	mClientGroup:   "(config-isakmp-group)#",
	mKeyring:       "(config-keyring)#",
	mISAKMPProfile: "(conf-isa-prof)#",
	mEzVPN:         "(config-crypto-ezvpn)#",
	mTrustpoint:    "(ca-trustpoint)#",
	mCertChain:     "(config-cert-chain)#",
	mCertificate:   "(config-pubkey)#",
}

type frame struct {
	mode   mode
	obj    any
	indent int
}

type parser struct {
	file  string
	line  int
	cfg   *Config
	stack []frame
	errs  ErrorList
	warns []*Warning
	// cur is the frame the command being applied matched in.
	cur frame
}

func (p *parser) errf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(format string, args ...any) { p.warnAt(p.line, format, args...) }

func (p *parser) warnAt(line int, format string, args ...any) {
	p.warns = append(p.warns, &Warning{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// enter pushes a submode entered by the command being applied.
func (p *parser) enter(m mode, obj any) {
	p.stack = append(p.stack, frame{mode: m, obj: obj})
}

// modeAt reports whether frame index i can hold commands of mode m.
type candidate struct {
	cmd   *command
	depth int // stack index the command's mode was found at
	m     *Match
}

// parseLine parses one command line. It returns false when the line was
// refused (its indented block is then skipped).
func (p *parser) parseLine(body string, indent int) bool {
	toks := strings.Fields(body)
	if len(toks) == 0 {
		return true // only (Unicode) white space
	}
	if p.stack[len(p.stack)-1].mode == mCertificate {
		return p.certLine(toks)
	}
	neg := false
	if strings.EqualFold(toks[0], "no") && len(toks) > 1 {
		neg, toks = true, toks[1:]
	}
	switch strings.ToLower(toks[0]) {
	case "exit":
		if len(toks) == 1 && !neg {
			if len(p.stack) > 1 {
				p.stack = p.stack[:len(p.stack)-1]
			}
			return true
		}
	case "end":
		if len(toks) == 1 && !neg {
			p.stack = p.stack[:1]
			return true
		}
	}
	// IOS semantics: a command not valid in the current submode is tried in
	// the enclosing modes, and matching there leaves the submode.
	var found []candidate
	type miss struct {
		depth int
		fail  failure
		cmd   *command
	}
	var best *miss
	for d := len(p.stack) - 1; d >= 0 && len(found) == 0; d-- {
		for _, c := range commandsByMode[p.stack[d].mode] {
			m, f := matchAll(c.elem, toks, neg && c.noForm)
			if m != nil {
				found = append(found, candidate{c, d, m})
				continue
			}
			if best == nil || f.pos > best.fail.pos {
				best = &miss{d, f, c}
			}
		}
	}
	if len(found) == 0 {
		p.reportMiss(toks, neg, best.fail, best.cmd, p.stack[best.depth].mode)
		return false
	}
	slices.SortStableFunc(found, func(a, b candidate) int { return b.m.score() - a.m.score() })
	if len(found) > 1 && found[0].m.score() == found[1].m.score() && found[0].cmd != found[1].cmd {
		p.errf(p.line, "ambiguous command %q: could be %q or %q; expected a longer abbreviation", strings.Join(toks, " "), found[0].cmd.syntax(), found[1].cmd.syntax())
		return false
	}
	c := found[0]
	p.stack = p.stack[:c.depth+1]
	p.cur = p.stack[c.depth]
	if c.cmd.later != "" {
		p.errf(p.line, "%q is not supported yet: %s", strings.Join(toks, " "), c.cmd.later)
		return false
	}
	if neg && !c.cmd.noForm {
		p.errf(p.line, "%q has no \"no\" form; expected the command without \"no\"", c.cmd.syntax())
		return false
	}
	nerr := len(p.errs)
	if err := c.cmd.apply(p, c.m, neg); err != nil {
		p.errf(p.line, "%s", err.Error())
		return false
	}
	if len(p.errs) > nerr {
		return false
	}
	if c.cmd.inert != "" && !neg {
		p.warnf("%q is accepted but has no effect yet: %s", strings.Join(toks, " "), c.cmd.inert)
	}
	if top := &p.stack[len(p.stack)-1]; len(p.stack) > c.depth+1 {
		top.indent = indent
	}
	return true
}

func (p *parser) reportMiss(toks []string, neg bool, f failure, c *command, m mode) {
	line := strings.Join(toks, " ")
	if neg {
		line = "no " + line
	}
	if amb := p.ambiguousFirst(toks[0]); len(amb) > 1 {
		p.errf(p.line, "ambiguous command %q: %q could be %s; expected a longer abbreviation", line, toks[0], strings.Join(amb, " or "))
		return
	}
	if f.pos == 0 || c == nil {
		msg := fmt.Sprintf("unknown command %q", line)
		if s := p.suggest(toks[0]); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		} else {
			msg += fmt.Sprintf("; expected a %s command", p.stack[len(p.stack)-1].mode)
		}
		p.errf(p.line, "%s", msg)
		return
	}
	at := "end of line"
	if f.pos < len(toks) {
		at = fmt.Sprintf("%q", toks[f.pos])
	}
	exp := f.expect
	if len(exp) > 8 {
		exp = append(exp[:8:8], "…")
	}
	p.errf(p.line, "invalid input at %s in %q (%s mode); expected %s (syntax: %s)", at, line, m, strings.Join(exp, " or "), c.syntax())
}

// ambiguousFirst returns the distinct first keywords word abbreviates,
// unless one of them is word itself.
func (p *parser) ambiguousFirst(word string) []string {
	word = strings.ToLower(word)
	var out []string
	for d := len(p.stack) - 1; d >= 0; d-- {
		for _, c := range commandsByMode[p.stack[d].mode] {
			lead := c.elem.leadingKeywords()
			if len(lead) == 0 {
				continue
			}
			if lead[0] == word {
				return nil
			}
			if strings.HasPrefix(lead[0], word) && !slices.Contains(out, lead[0]) {
				out = append(out, lead[0])
			}
		}
	}
	return out
}

// suggest returns the known first keyword nearest to word, searching the
// modes on the stack.
func (p *parser) suggest(word string) string {
	word = strings.ToLower(word)
	best, bestD := "", 1<<30
	seen := map[string]bool{}
	for d := len(p.stack) - 1; d >= 0; d-- {
		for _, c := range commandsByMode[p.stack[d].mode] {
			lead := c.elem.leadingKeywords()
			if len(lead) == 0 || seen[lead[0]] {
				continue
			}
			seen[lead[0]] = true
			if dist := editDistance(word, lead[0]); dist < bestD {
				best, bestD = lead[0], dist
			}
		}
	}
	if bestD <= max(2, len(word)/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// errNotHere is returned by handlers that find the object they need missing.
var errNotHere = errors.New("command is not valid here")
