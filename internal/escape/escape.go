// Package escape makes strings a peer chose safe to write to a terminal
// or a log line. It is a leaf: aaa, show and the daemon share its one rule.
package escape

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text returns s as it may be written to a terminal or a log line:
// printable UTF-8 is kept, a backslash is doubled, and every other octet —
// control characters (ESC, newline, carriage return), DEL, the C1 range,
// format characters such as U+202E and invalid UTF-8 — becomes \n, \r, \t
// or \xNN. A name a peer chose (PAP Peer-ID, CHAP Name, RFC 1334 §2.2.1,
// RFC 1994 §4.1; an L2TP Host Name) can then not move the cursor, clear
// the screen or start a fake line.
func Text(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r == '\\' || !strconv.IsPrint(r) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	const hex = "0123456789abcdef"
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteString(`\x`)
			b.WriteByte(hex[s[i]>>4])
			b.WriteByte(hex[s[i]&15])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case !strconv.IsPrint(r):
			for j := range n {
				c := s[i+j]
				b.WriteString(`\x`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
