package escape

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"", ""},
		{"jürgen@例え.jp", "jürgen@例え.jp"},
		{"a b", "a b"},
		{"\x1b[2J\nfake line", `\x1b[2J\nfake line`},
		{"tab\there\r", `tab\there\r`},
		{`back\slash`, `back\\slash`},
		{"\xff\xfe", `\xff\xfe`},
		{"\u202eevil", `\xe2\x80\xaeevil`}, // right-to-left override
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\xc2\x85`},
	} {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"alice", "\x1b[2J\nx", "\xff", `\`, "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q) = %q: not UTF-8", s, out)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("Text(%q) = %q: control character %U", s, out, r)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' || r >= 0x80 }) && out != s {
			t.Fatalf("Text(%q) = %q: a plain name changed", s, out)
		}
	})
}
